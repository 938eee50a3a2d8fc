"""The core package must stay free of the UI toolkit: helpdesk never imports textual or rich."""

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import helpdesk
for mod in pkgutil.walk_packages(helpdesk.__path__, "helpdesk."):
    if mod.name.startswith("helpdesk.migrations.versions") or mod.name == "helpdesk.__main__":
        continue
    if mod.name == "helpdesk.migrations.env":
        continue  # runs only inside Alembic
    importlib.import_module(mod.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"textual", "rich"})
print(len(list(pkgutil.walk_packages(helpdesk.__path__, "helpdesk."))))
print(",".join(loaded))
"""


def test_importing_every_helpdesk_module_loads_no_ui_toolkit() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert int(out[0]) > 10  # the walk really found the package's modules
    assert out[1] == "", f"helpdesk imported UI modules: {out[1]}"


def test_cli_help_does_not_load_the_ui() -> None:
    code = (
        "import sys\n"
        "from helpdesk.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(any(m.split('.')[0] in {'textual', 'rich', 'screens'} for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
