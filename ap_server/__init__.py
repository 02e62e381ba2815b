"""The access point: ADMM state and steps, centralised reference, and (later) the Flower ServerApp."""
from ap_server.admm import APState, Residuals, ap_update, start_state
from ap_server.centralised import constrained_f_step
from ap_server.consensus import dual_update, global_f, power, project_power
from ap_server.fstep import local_f_step_closed, local_f_step_sylvester, solve_hermitian_sylvester
from ap_server.init import initial_f
from ap_server.penalty import PenaltyRule

__all__ = [
    "APState", "Residuals", "ap_update", "start_state", "constrained_f_step",
    "dual_update", "global_f", "power", "project_power",
    "local_f_step_closed", "local_f_step_sylvester", "solve_hermitian_sylvester", "initial_f",
    "PenaltyRule",
]
