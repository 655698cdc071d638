"""Check the reference solutions against the papers, independently of the reference itself.

``python -m autograder validate`` proves that the reference scores full marks on the hidden
tests, but the hidden tests compare a student with the reference: a wrong reference formula
would pass. This module recomputes what every exercise must return from the papers' closed
forms (float64 numpy; plain torch functional ops from the module's own ``state_dict`` for the
network pieces) and compares it with whatever ``solutions`` package is importable now.

The checks live in ``autograder.authoring.reference_checks``, one module per group of notebooks.
``problems()`` returns one line per disagreement, each naming the function or class, e.g.
``solutions.schedules.cosine_beta_schedule: betas ... differ from eq. 17 of Nichol & Dhariwal
(max error 0.3 at t=999)``; an empty list means every check passed. ``CHECKS`` maps each
exercise id to its check. Where ``diffusers`` is installed, the schedules and one DDPM step are
also compared with its ``DDPMScheduler``; without it those comparisons are skipped.
"""

import torch

from autograder.assignment import exercises
from autograder.authoring.reference_checks.closed_forms import qualified
from autograder.authoring.reference_checks.guidance_checks import check_p_losses_cfg, check_p_sample_guided
from autograder.authoring.reference_checks.network_checks import (
    check_Block,
    check_ResnetBlock,
    check_SinusoidalPositionEmbeddings,
)
from autograder.authoring.reference_checks.sampling_checks import (
    check_ddim_step,
    check_p_sample,
    check_p_sample_loop,
    check_vlb_term,
)
from autograder.authoring.reference_checks.schedule_checks import (
    check_cosine_beta_schedule,
    check_DiffusionSchedule,
    check_extract,
    check_p_losses,
    check_q_posterior,
    check_q_sample,
)

CHECKS = {
    "cosine_beta_schedule": check_cosine_beta_schedule,
    "DiffusionSchedule": check_DiffusionSchedule,
    "extract": check_extract,
    "q_sample": check_q_sample,
    "p_losses": check_p_losses,
    "q_posterior": check_q_posterior,
    "SinusoidalPositionEmbeddings": check_SinusoidalPositionEmbeddings,
    "Block": check_Block,
    "ResnetBlock": check_ResnetBlock,
    "p_sample": check_p_sample,
    "p_sample_loop": check_p_sample_loop,
    "vlb_term": check_vlb_term,
    "ddim_step": check_ddim_step,
    "p_losses_cfg": check_p_losses_cfg,
    "p_sample_guided": check_p_sample_guided,
}
# where each checked exercise lives (the exercise table's module)
MODULES = {exercise: exercises.BY_ID[exercise].module for exercise in CHECKS}


def problems() -> list[str]:
    """Every disagreement between the importable ``solutions`` package and the independent
    computations, one line each naming the function or class; ``[]`` when all agree."""
    found = []
    rng_state = torch.get_rng_state()
    try:
        for exercise, check in CHECKS.items():
            try:
                found += check()
            except Exception as error:  # a broken reference must be reported, not crash the report
                message = " ".join(str(error).split())
                found.append(f"{qualified(exercise)}: check raised {type(error).__name__}: {message}")
    finally:
        torch.set_rng_state(rng_state)
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    print(f"reference check: {len(found)} problem(s) in {len(CHECKS)} exercises")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
