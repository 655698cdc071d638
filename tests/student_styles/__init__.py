"""Independently written, correct student solutions in different styles, and a builder.

Each folder ``<variant>/`` holds what one imaginary student wrote: for every exercise module
(``schedules.py``, ``forward.py``, ...) only the definitions they completed, with the stub's
exact signatures, plus the imports they added; any other module (e.g. ``mymath.py``) is a
module of the student's own. ``build(variant, dest)`` splices them into the generated stubs
and writes a complete student ``helpers/`` package into ``dest/helpers/``.

Every variant solves every exercise (the bonus ``ddim_step``, ``p_losses_cfg``, ``p_sample_guided`` included); styles:

- ``literal_float32``: the notebooks' formulas as written, float32 (float64 only for the cosine schedule);
- ``float64``: every intermediate in float64, cast back to the input dtype; ``torch.minimum``, arange / T;
- ``einops``: ``rearrange`` / ``repeat`` / ``reduce`` for reshapes and broadcasting (Block included);
- ``gather``: ``torch.gather``, ``.view`` / ``unsqueeze``, a 0/1 noise mask, ``torch.addcmul``, Python-float cosine,
  ``padding="same"``;
- ``where``: ``torch.where`` and boolean masks (index 0, clipping, extract, huber), ``torch.clip``;
- ``inplace``: ``mul_`` / ``add_`` / ``sub_`` / ``clamp_`` ... on tensors nobody else holds;
- ``sqrt_product``: ``sqrt(a * b)``, ``rsqrt``, ``pow(0.5)``, log-space cumprod, ``1 / 10000 ** (i / (h - 1))``,
  ``torch.outer``, ``stack(...).flatten``, numpy for the cosine schedule;
- ``posterior_route``: ``p_sample`` through x0_hat and the eq. 7 posterior mean in both branches, a while loop,
  log-space cosine betas, ``torch.logspace`` frequencies, ``match`` over the loss types;
- ``own_module``: shared maths in the student's own ``helpers/mymath.py``, imported relatively and absolutely.
"""

import ast
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = sorted(p.name for p in HERE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def _start(node):
    """First line of a definition, decorators included (1-based)."""
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _definitions(tree):
    """``{"name" or "Class.method": node}`` of the top-level functions and the methods of top-level classes."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{sub.name}"] = sub
    return found


def splice(stub_text, variant_text):
    """The stub with each definition the variant provides replaced by the variant's, and the
    variant's top-level imports inserted after the stub's own imports."""
    stub_lines = stub_text.splitlines(keepends=True)
    variant_lines = variant_text.splitlines(keepends=True)
    stub_tree, variant_tree = ast.parse(stub_text), ast.parse(variant_text)
    stub_defs = _definitions(stub_tree)
    replacements = []
    for name, node in _definitions(variant_tree).items():
        if name not in stub_defs:
            raise KeyError(f"the variant defines {name}, which the stub does not have")
        old = stub_defs[name]
        replacements.append((_start(old), old.end_lineno, variant_lines[_start(node) - 1 : node.end_lineno]))
    for start, end, new in sorted(replacements, reverse=True):
        stub_lines[start - 1 : end] = new
    imports = [
        "".join(variant_lines[node.lineno - 1 : node.end_lineno])
        for node in variant_tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    last_import = max(node.end_lineno for node in stub_tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    stub_lines[last_import:last_import] = imports  # every definition lies below the imports
    return "".join(stub_lines)


def build(variant, dest):
    """Write the student ``helpers/`` of ``variant`` into ``dest/helpers/``; returns that folder."""
    from autograder.authoring import stubs

    source = HERE / variant
    if not source.is_dir():
        raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
    helpers = Path(dest) / "helpers"
    helpers.mkdir(parents=True, exist_ok=True)
    generated = stubs.generate()
    for name, text in generated.items():
        mine = source / name
        (helpers / name).write_text(splice(text, mine.read_text()) if mine.exists() else text)
    for own in sorted(source.glob("*.py")):
        if own.name not in generated:
            (helpers / own.name).write_text(own.read_text())
    return helpers
