"""The README's first command: the demo plays the whole loop and the report agrees with it."""

import json
import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
    return subprocess.run([sys.executable, "-m", "reliability", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120, check=False)


def test_the_demo_shows_a_wednesday_delay_draft_in_three_languages_and_a_matching_ledger(
    tmp_path: Path,
) -> None:
    demo = run("demo", "--no-serve", "--dir", str(tmp_path / "week"), cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    wednesday = demo.stdout.split("Wednesday morning")[1].split("Wednesday 10:00")[0]
    assert "New delivery date for “Q3 report”" in wednesday
    assert "Nytt leveransdatum för" in wednesday
    assert "交付日期调整为" in wednesday
    assert "sent to Dana Reed <dana@acme.example>: New delivery date for “Q3 report”" in demo.stdout
    assert "Bob Hale's digest for Wednesday 18 November (sent)" in demo.stdout
    # Each language: a delay notice with the reason the owner gave for the client, and one
    # without, flagged for its owner; the team note reaches neither client.
    drafts = wednesday.split("--- delay notice #")[1:]
    for locale, given, note in (
            ("en", "reached us later than planned", "Bob pulled me onto"),
            ("sv", "kom senare än planerat", "Jag har suttit med"),
            ("zh", "比预期晚到", "这周一直在赶")):
        mine = [d for d in drafts if f"({locale}) ---" in d.split("\n")[0]]
        letters = [d.split("Subject:", 1)[1] for d in mine]
        assert sum(given in letter for letter in letters) == 1, locale
        assert not any(note in letter for letter in letters), locale
        assert sum("No reason for the client yet" in d.split("Subject:")[0] for d in mine) == 1
    # Each member reads their check-in request and each manager their digest in their language.
    assert "Hi Alice,\n" in demo.stdout.replace("  ", "")
    assert "Hej Erik,\n" in demo.stdout.replace("  ", "")
    assert "陈梅，您好！" in demo.stdout
    assert "Hej Sara," in demo.stdout.split("Sara Lind's digest")[1]
    assert "王芳，您好！" in demo.stdout.split("王芳's digest")[1]
    command = demo.stdout.split("The same figures from the CLI: reliability ")[1].split("\n")[0]
    report = run(*command.split(), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    groups = {row["group"]: row for row in json.loads(report.stdout)["groups"]}
    alice = groups["alice@agency.example"]
    printed = next(line for line in demo.stdout.splitlines()
                   if line.strip().startswith("alice@agency.example"))
    assert printed.split()[1:3] == [str(alice["due"]), str(alice["kept_on_time"])]
    assert f"{alice['on_time_rate']:.0%}" in printed
    assert f"{alice['proactive_notice_rate']:.0%}" in printed
