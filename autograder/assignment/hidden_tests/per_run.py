"""What one grading run prepares on the trusted side: every task's inputs and references, and the
reference code of the dependencies (sent into the sandbox with the tasks that need them).

The tasks are the exercise table's (``autograder.assignment.exercises.TASKS``), passed in: the hidden
tests never import the table, the table imports them.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from autograder.assignment.hidden_tests.common import Arrays, Task

# ----------------------------------------------------------------------------- dependencies (sent to the sandbox late)


def _fn_source(obj: Any) -> str:
    return textwrap.dedent(inspect.getsource(obj))


def dep_sources() -> dict[str, str]:
    """``{dep name: python source}``; each source defines objects and ``__targets__``:
    ``[(module, dotted attribute, object name)]`` to patch into the student's modules."""
    import solutions.forward
    import solutions.posterior
    import solutions.sampling
    import solutions.schedules
    import solutions.unet

    extract = _fn_source(solutions.schedules.extract)
    q_sample = _fn_source(solutions.forward.q_sample)
    q_posterior = _fn_source(solutions.posterior.q_posterior)
    sampling = solutions.sampling
    p_sample = "\n".join(_fn_source(f) for f in (sampling.predict_x0, sampling.posterior_mean, sampling.p_sample))
    block_cls = _fn_source(solutions.unet.Block).replace("super().__init__()", "nn.Module.__init__(self)")
    block_init = _fn_source(solutions.unet.Block.__init__).replace("super().__init__()", "nn.Module.__init__(self)")
    head = "import math\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
    return {
        "extract": head
        + extract
        + "\n__targets__ = [(m, 'extract', 'extract') for m in ('forward', 'posterior', 'sampling', 'ddim', 'likelihood')]\n",
        "q_posterior": head
        + extract
        + "\n"
        + q_posterior
        + "\n__targets__ = [(m, 'q_posterior', 'q_posterior') for m in ('sampling', 'likelihood')]\n",
        "q_sample": head
        + extract
        + "\n"
        + q_sample
        + "\n__targets__ = [(m, 'q_sample', 'q_sample') for m in ('losses', 'likelihood')]\n",
        "Block.__init__": head + block_init + "\n__targets__ = [('unet', 'Block.__init__', '__init__')]\n",
        "Block": head + block_cls + "\n__targets__ = [('unet', 'Block', 'Block')]\n",
        "standin_p_sample": head
        + "from standins import standin_p_sample\n__targets__ = [('sampling', 'p_sample', 'standin_p_sample')]\n",
        # notebook 10: the guidance exercises build on q_sample and on the whole p_sample step
        "q_sample@guidance": head + extract + "\n" + q_sample + "\n__targets__ = [('guidance', 'q_sample', 'q_sample')]\n",
        "p_sample@guidance": head
        + extract
        + "\n"
        + q_posterior
        + "\n"
        + p_sample
        + "\n__targets__ = [('guidance', 'p_sample', 'p_sample')]\n",
    }


def make_inputs(seed: int, tasks: Sequence[Task]) -> dict[str, Arrays]:
    """``{task name: {key: array}}`` of randomized inputs for one grading run."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for task in tasks:
        torch.manual_seed(int(rng.integers(1 << 30)))
        assert task.make is not None, f"task {task.name} has no input maker"
        inputs[task.name] = task.make(np.random.default_rng(rng.integers(1 << 62)))
    return inputs


def make_references(inputs: dict[str, Arrays], tasks: Sequence[Task]) -> dict[str, Arrays]:
    """``{task name: {key: array}}`` computed in this (trusted) process from ``solutions/``."""
    torch.set_num_threads(1)
    references = {}
    for task in tasks:
        assert task.reference is not None, f"task {task.name} has no reference"
        references[task.name] = task.reference(inputs[task.name])
    return references
