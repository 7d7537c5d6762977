"""The CLI never shows a traceback: random argument lists and random files thrown at every
command end in exit 0 (it worked) or exit 2 (one message saying what was wrong).

The commands are read from the Typer app, so a new command is fuzzed without touching this
file. A bug would show as exit 1 with an "internal error" line, which fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reliability.cli import app

AS_OF = "2026-11-23T10:00-05:00"
# These run until stopped (a server, the scheduler, the demo's dashboard); their argument
# checks are the same code paths as the rest and are covered by their own tests.
RUN_UNTIL_STOPPED = {("serve",), ("worker",), ("demo",)}
EXAMPLES = 60  # per backend, up to three commands each: about half a minute each way

# Realistic values by what a parameter is about (matched on its name), so most invocations
# get past argument parsing and into the commands; hostile values are mixed into every one.
SENSIBLE = {
    "id": ["1", "2", "3"],
    "client": ["Acme", "acme", "Globex"],
    "email": ["alice@example.com", "bob@example.com", "not-an-email"],
    "date": ["2026-11-27", "2026-11-27T17:00-05:00", "2026-11-16", "Friday", "Wednesday",
             "next week", "yesterday", "in 400 weeks", "周五前", "senast fredag"],
    "score": ["1", "4", "5", "0", "6"],
    "text": ["Q3 report for Acme by Friday", "Q3 report", "data is late", "Dana Reed"],
    "choice": ["en", "sv", "zh", "on_track", "at_risk", "done", "open", "draft", "minor",
               "major", "email", "slack", "owner", "client", "team", "text", "html", "blocks",
               "json", "csv", "delay_notice", "digest", "America/New_York", "US", "USD", "500",
               "C0123ABCD", "U0123ABCD", "4"],
}
# What a careless user or an attacker types instead, by kind; any kind may also get these.
HOSTILE = {
    "id": ["0", "-1", "2147483648", "99999999999999999999"],
    "date": ["9999-12-31", "in 99999999999 days", "0001-01-01", "Dec 31 9999"],
    "email": ["alice\x00@example.com", "x" * 100_000, "@", "\udcff"],
    "client": ["Ac\x00me", "x" * 100_000, "\x1b[31mAcme"],
}
ANYWHERE = ["", " ", "a\x00b", "\x1b[31mred", "\udcff", "line\nbreak", "x" * 100_000,
            "1e309", "nan", "Mars/Olympus", "ZZ", "{{ 7*7 }}", "../etc/passwd",
            "garbage://", "sqlite:///no/such/folder/x.db", "http://[::1"]
KINDS = [("promise", "id"), ("notice", "id"), ("_id", "id"), ("client", "client"),
         ("owner", "email"), ("manager", "email"), ("email", "email"), ("due", "date"),
         ("reply_by", "date"), ("as_of", "date"), ("start", "date"), ("end", "date"),
         ("file", "path"), ("out", "path"), ("config", "path"), ("dir", "path"),
         ("overall", "score"), ("would", "score"), ("lead", "score"), ("port", "score"),
         ("credit", "choice")]


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf command under a (Typer's own click) group, as its words and the command."""
    found = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


COMMANDS = [(path, command) for path, command in _commands(typer.main.get_command(app))
            if path not in RUN_UNTIL_STOPPED]


def test_every_command_is_fuzzed() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"promise add", "promise show", "when", "drafts edit", "export", "client add",
            "rating add", "backtest", "report"} <= names
    assert len(names) >= 30


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    """Paths a careless user might give: good, empty, not UTF-8, huge, a folder, missing."""
    (tmp_path / "draft.txt").write_text("Hi Dana,\n\nTuesday, not Friday.\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Hej, vi är sena\n".encode("latin-1"))
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "nul.txt").write_bytes(b"a\x00b\n")
    (tmp_path / "huge.txt").write_text("x" * 200_000, encoding="utf-8")
    (tmp_path / "history.csv").write_text("id,owner,client,made_at,due_at,done_at\n"
                                          "1,a,b,not-a-date,9999-12-31,\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text("[policy]\ndue_horizon_years = 0\n",
                                          encoding="utf-8")
    (tmp_path / "folder").mkdir()
    names = ["draft.txt", "latin1.txt", "binary.bin", "empty.txt", "nul.txt", "huge.txt",
             "history.csv", "config.toml", "folder", "missing.txt"]
    # Nothing outside tmp_path that a command could write into (export --out, for one).
    return [str(tmp_path / name) for name in names] + ["/proc/nope", "/dev/null"]


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A migrated database with a client, two members and a promise, so ids 1 and 2 exist."""
    monkeypatch.chdir(tmp_path)
    for variable in [v for v in os.environ if v.startswith("RELIABILITY_")]:
        if variable != "RELIABILITY_TEST_POSTGRES_URL":
            monkeypatch.delenv(variable)
    runner = CliRunner()
    for args in (["init"],
                 ["client", "add", "Acme", "--email", "dana@acme.example", "--timezone",
                  "America/New_York", "--confirm-promises"],
                 ["member", "add", "bob@example.com", "--name", "Bob", "--role", "manager"],
                 ["member", "add", "alice@example.com", "--name", "Alice", "--manager",
                  "bob@example.com"],
                 ["promise", "add", "Q3 report", "--client", "Acme", "--owner",
                  "alice@example.com", "--due", "2026-11-27"]):
        result = runner.invoke(app, ["--db", database_url, "--as-of", AS_OF, *args])
        assert result.exit_code == 0, result.stderr
    return database_url


ONE_IN_TEN = st.sampled_from([False] * 9 + [True])


def _values(param: Any, files: list[str]) -> st.SearchStrategy[str]:
    """Mostly what the parameter expects, often something hostile, now and then anything."""
    kind = next((kind for part, kind in KINDS if part in (param.name or "")), None)
    if kind is None:
        kind = "id" if getattr(getattr(param, "type", None), "name", "") == "integer" else "text"
    sensible = files if kind == "path" else SENSIBLE.get(kind, SENSIBLE["choice"])
    hostile = HOSTILE.get(kind, ANYWHERE)
    return st.one_of(st.sampled_from(sensible), st.sampled_from(sensible), st.sampled_from(hostile),
                     st.sampled_from(hostile), st.sampled_from(ANYWHERE + files),
                     st.text(max_size=20))


@st.composite
def invocations(draw: st.DrawFn, files: list[str]) -> list[str]:
    """A command with random values for some of its arguments and options, and now and then
    a root option or a stray extra token."""
    path, command = draw(st.sampled_from(COMMANDS))
    anything = st.sampled_from(ANYWHERE + files)
    args: list[str] = []
    if draw(ONE_IN_TEN):
        args += [draw(st.sampled_from(["--as-of", "--config", "--db"])), draw(anything)]
    args += list(path)
    for param in command.params:
        option = param.param_type_name == "option"
        if draw(st.booleans() if option and not param.required else ONE_IN_TEN):
            continue
        count = max(param.nargs, 1)
        if option:
            args.append(draw(st.sampled_from(param.opts)))
            if param.is_flag:
                continue
        args += [draw(_values(param, files)) for _ in range(count)]
    if draw(ONE_IN_TEN):
        args.append(draw(anything))
    return args


def test_no_arguments_or_files_make_the_cli_show_a_traceback(database: str,
                                                              files: list[str]) -> None:
    runner = CliRunner()

    @given(session=st.lists(invocations(files), min_size=1, max_size=3))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def exits_0_or_2(session: list[list[str]]) -> None:
        for args in session:
            result = runner.invoke(app, ["--db", database, "--as-of", AS_OF, *args], input="")
            shown = f"reliability {' '.join(repr(a)[:60] for a in args)}\n{result.stderr[-2000:]}"
            assert result.exit_code in (0, 2), shown
            assert result.exception is None or isinstance(result.exception, SystemExit), shown
            assert "Traceback" not in result.stderr, shown
            assert "internal error" not in result.stderr, shown

    exits_0_or_2()
