"""The grader's code as a maintainer finds it: stage packages without import circles, small modules,
typed public functions, and no private names used across modules (tests included)."""

import ast
import sys

import pytest

from autograder.paths import ROOT

PACKAGE = ROOT / "autograder"
MAX_LINES = 500
# a config file nbgrader execs (no functions); everything else in autograder/ is held to the rules below
NOT_CODE = {"autograder/reporting/nbgrader_config.py"}


def _modules():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if "__pycache__" in rel or rel in NOT_CODE:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name, path):
    """Every autograder module ``name`` imports, at its top or inside a function (lazy imports count)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    return {t for t in targets if t in MODULES and t != name}


def test_no_import_circle():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import circles (lazy imports count):\n" + "\n".join(cycles)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines: split it (at most {MAX_LINES})"


def _public_functions(tree):
    """(qualified name, node) of every public function and public method of a public class."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if not item.name.startswith("_") or item.name == "__init__":
                        yield f"{node.name}.{item.name}", item


@pytest.mark.parametrize("name", sorted(MODULES))
def test_public_functions_are_typed(name):
    missing = []
    for qualname, fn in _public_functions(ast.parse(MODULES[name].read_text())):
        args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
        if args and args[0].arg in ("self", "cls"):
            args = args[1:]
        args += [a for a in (fn.args.vararg, fn.args.kwarg) if a is not None]
        untyped = [a.arg for a in args if a.annotation is None]
        if untyped or (fn.returns is None and fn.name != "__init__"):
            missing.append(f"{qualname}({', '.join(untyped)}){'' if fn.returns or fn.name == '__init__' else ' -> ?'}")
    assert not missing, f"{name}: public functions without type hints: {missing}"


def _private_uses(path, own_module=None):
    """``module._name`` and ``from module import _name`` where the module is another autograder module."""
    tree = ast.parse(path.read_text())
    aliases, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in MODULES:
                    aliases[alias.asname or alias.name] = full
                elif alias.name.startswith("_") and not alias.name.startswith("__") and node.module != own_module:
                    found.append(f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != own_module
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return sorted(set(found))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_names_across_modules(name):
    uses = _private_uses(MODULES[name], own_module=name)
    assert not uses, f"{name} uses private names of other modules: {uses}"


TEST_FILES = sorted(p for p in (ROOT / "tests").rglob("*.py") if "student_styles" not in p.parts)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_tests_use_public_names_only(path):
    uses = _private_uses(path)
    assert not uses, f"{path.relative_to(ROOT)} reaches into private names of the grader: {uses}"


def test_the_checks_above_can_fail(tmp_path):
    """The rules catch what they describe (else the tests above would pass on anything)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from autograder.sandbox import bubblewrap\nfrom autograder.authoring.stubs import _scan\n"
        "def f(x):\n    return bubblewrap._env()\n"
    )
    assert len(_private_uses(bad)) == 2
    tree = ast.parse(bad.read_text())
    assert [q for q, _ in _public_functions(tree)] == ["f"]


BASE = ("autograder.paths", "autograder.records", "autograder.untrusted")


@pytest.mark.parametrize("name", BASE)
def test_base_modules_import_nothing_of_the_course(name):
    tree = ast.parse(MODULES[name].read_text())
    course = {"autograder", "solutions", "helpers"}
    found = [
        alias.name if isinstance(node, ast.Import) else node.module
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
        if ((alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0] in course or node_is_relative(node))
    ]
    assert not found, f"{name} imports course code: {found}"


def node_is_relative(node):
    return isinstance(node, ast.ImportFrom) and node.level > 0


@pytest.mark.parametrize("path", sorted((PACKAGE / "sandbox" / "box").glob("*.py")), ids=lambda p: p.name)
def test_box_files_import_nothing_of_the_grader(path):
    """They run inside the sandbox, where ``autograder/`` is not there to import."""
    allowed = {"numpy", "torch", "standins", "calls", "helpers"}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
            assert node.level == 0, f"{path.name}: relative import"
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in allowed or top in sys.stdlib_module_names, f"{path.name} imports {name}"
