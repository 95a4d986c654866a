"""The package's shape: a headless core, the napari/Qt layer apart, no import cycles.

Read from the source files (every import statement, at any depth), so a
lazy import inside a function counts too.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import napari_semia

PACKAGE = Path(napari_semia.__file__).parent
QT_LAYER = "_qt"
GUI_LIBRARIES = {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "magicgui",
                 "pyqtgraph", "vispy", "psygnal", "npe2", "app_model", "in_n_out"}
ARCHITECTURE = PACKAGE.parents[1] / "docs" / "architecture.md"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            found.add(prefix)
            # `from . import x` imports the submodule x.
            for alias in node.names:
                candidate = f"{prefix}.{alias.name}"
                if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists():
                    found.add(candidate)
    return found


def modules() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}


def test_core_modules_import_no_gui_library():
    offenders = {}
    for name, imported in modules().items():
        if name.startswith(f"napari_semia.{QT_LAYER}"):
            continue
        gui = {m for m in imported if m.split(".")[0] in GUI_LIBRARIES}
        own_qt = {m for m in imported if m.startswith(f"napari_semia.{QT_LAYER}")}
        if gui or own_qt:
            offenders[name] = sorted(gui | own_qt)
    # The CLI's `demo --gui` opens napari: its imports of the Qt layer are the one exception.
    offenders.pop("napari_semia.cli", None)
    assert offenders == {}


def test_the_cli_imports_napari_only_for_demo_gui():
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    top_level = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                 for alias in node.names}
    top_level |= {(node.module or "").split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert not top_level & GUI_LIBRARIES
    gui_functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                     and any(isinstance(n, (ast.Import, ast.ImportFrom)) and (
                         any(a.name.split(".")[0] in GUI_LIBRARIES for a in n.names)
                         or (getattr(n, "module", None) or "").startswith("_qt"))
                         for n in ast.walk(node))}
    assert gui_functions == {"_cmd_demo_gui"}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first walk, as the cycle it closes."""
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_no_import_cycles():
    imports = modules()
    graph = {name: {m for m in imported if m in imports and m != name} for name, imported in imports.items()}
    assert find_cycles(graph) == []


def test_the_core_imports_without_napari_or_qt():
    # Every core module, imported for real: a library it uses could pull Qt in.
    core = sorted(name for name in modules() if not name.startswith(f"napari_semia.{QT_LAYER}"))
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in {sorted(GUI_LIBRARIES)!r} if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def documented_import_order() -> dict[str, int]:
    """Each core module's tier in docs/architecture.md's import order (0 at the bottom)."""
    text = ARCHITECTURE.read_text()
    start = text.index("Import order, bottom to top")
    order = text[text.index(":", start) + 1:text.index("## The napari / Qt layer")]
    return {name: tier for tier, names in enumerate(order.split("→"))
            for name in re.findall(r"`(\w+)`", names)}


def test_the_core_keeps_the_documented_import_order():
    # The order in docs/architecture.md was checked by hand; now it cannot drift.
    tiers = documented_import_order()
    imports = modules()
    core = {name.rsplit(".", 1)[-1]: imported for name, imported in imports.items()
            if name.count(".") == 1 and not name.endswith(f".{QT_LAYER}")}
    assert sorted(set(core) - set(tiers)) == [] and sorted(set(tiers) - set(core)) == []
    upward = sorted(f"{name} imports {target}" for name, imported in core.items() for target in
                    (m.split(".")[1] for m in imported if m.count(".") == 1 and m.startswith("napari_semia."))
                    if target in tiers and tiers[target] >= tiers[name])
    assert upward == []


def test_the_command_line_s_help_and_version_load_no_torch():
    # A packager: --help took 1.6 s, 1.2 s of it torch, loaded for the device names
    # (slow where environments live on network storage).
    code = (
        "import sys, contextlib, io\n"
        "from napari_semia import cli\n"
        "for args in (['--help'], ['--version'], ['train', '--help'], ['generate', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        cli.main(args)\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_version_is_the_one_the_package_metadata_gives():
    # A packager: it is written in two places, and models and Dask workers go by it.
    import re

    import napari_semia

    pyproject = (PACKAGE.parents[1] / "pyproject.toml").read_text()  # (tomllib: Python 3.11 on)
    project = pyproject[pyproject.index("[project]"):]
    assert napari_semia.__version__ == re.search(r'^version = "([^"]+)"', project, re.M).group(1)


def test_the_manifest_points_into_the_qt_layer():
    import yaml

    manifest = yaml.safe_load((PACKAGE / "napari.yaml").read_text())
    paths = [command["python_name"] for command in manifest["contributions"]["commands"]]
    assert paths and all(path.startswith(f"napari_semia.{QT_LAYER}.") for path in paths)


def test_only_device_py_asks_which_device_runs():
    """CI has no GPU: code that takes another path on an accelerator would ship
    untested (the components' labelling did, and ran 5x slower on an H200)."""
    pattern = re.compile(r"device\.type\b|\.is_cuda\b|\.is_mps\b|(cuda|mps)\.is_available")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py")) if path.name != "device.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, "\n".join(offenders)
