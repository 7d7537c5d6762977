"""A real IMAP server: a private Dovecot, from the distribution, on a free loopback port.

Its configuration, mail (Maildir) and state live in a temporary folder; one test user logs
in with a plain password, in the clear or over TLS (IMAPS, with a certificate from a
throw-away authority made by trustme). Run as root, the mail belongs to `nobody` and
Dovecot's own users (dovecot, dovenull) serve it, as Dovecot requires; run as anyone else,
everything is that user's. Tests put mail in with IMAP APPEND, as a mail server's delivery would.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
from imapclient import IMAPClient
from pydantic import SecretStr

from reliability.config import InboxSettings

HOST = "127.0.0.1"
USER = "promises@example.com"
PASSWORD = "imap-test-password"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot"
                                      if os.path.exists("/usr/sbin/dovecot") else None)
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
MISSING = ("Dovecot is not installed: `apt-get install dovecot-imapd` (as .ci/run does) to "
           "run the IMAP tests")


@dataclass
class ImapServer:
    host: str
    port: int
    tls_port: int  # implicit TLS (IMAPS), with a certificate from a throw-away authority
    folder_root: Path
    ca: trustme.CA

    def settings(self, folder: str = "INBOX", *, tls: bool = False) -> InboxSettings:
        """Inbox settings that point `reliability inbox --imap` at this server."""
        return InboxSettings(host=self.host, port=self.tls_port if tls else self.port,
                             ssl=tls, user=USER, password=SecretStr(PASSWORD), folder=folder,
                             timeout_seconds=5)

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate authority."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=5)
        client.login(USER, PASSWORD)
        return client

    def new_folder(self) -> str:
        """A folder of the test's own, so tests sharing the server never see each other's
        mail."""
        name = f"t{uuid.uuid4().hex[:12]}"
        with self.client() as client:
            client.create_folder(name)
        return name

    def append(self, folder: str, raw: bytes) -> None:
        with self.client() as client:
            client.append(folder, raw)

    def flags(self, folder: str) -> list[set[bytes]]:
        """Each message's flags, oldest first."""
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            found = client.get_flags(client.search(["ALL"]))
            return [set(found[uid]) for uid in sorted(found)]

    def clear_flags(self, folder: str, flags: list[bytes]) -> None:
        """As if the marks were never stored: the connection died before they were."""
        with self.client() as client:
            client.select_folder(folder)
            client.remove_flags(client.search(["ALL"]), flags, silent=True)

    def kick(self) -> None:
        """Drop every connection of the test user, as a server restart or a network does.
        `kick` only signals the connections' processes, so this returns once the server no
        longer lists the user: a command sent earlier could still have been answered."""
        config = str(self.folder_root / "dovecot.conf")
        subprocess.run([DOVEADM, "-c", config, "kick", USER], check=True, capture_output=True)
        for _ in range(1000):
            listed = subprocess.run([DOVEADM, "-c", config, "who", "-1", USER],
                                    capture_output=True, text=True).stdout
            if USER not in listed:
                return
        raise AssertionError("the IMAP server still lists the kicked user's connection")

    def copy_all(self, source: str, target: str) -> None:
        """The messages again, under new UIDs: a folder rebuilt (a new UIDVALIDITY)."""
        with self.client() as client:
            client.select_folder(source)
            client.copy(client.search(["ALL"]), target)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _config(root: Path, port: int, tls_port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot runs no mail process as root, and its login process as its own user.
        mail_uid, mail_gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        internal, internal_group, login = "dovecot", "dovecot", "dovenull"
    else:
        mail_uid, mail_gid = os.geteuid(), os.getegid()
        internal = login = pwd.getpwuid(mail_uid).pw_name
        internal_group = grp.getgrgid(mail_gid).gr_name
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
# A refused login is answered at once (the default waits 2 s against guessing).
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {tls_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def dovecot_server() -> Iterator[ImapServer]:
    """Run a private Dovecot for the duration of the block."""
    assert DOVECOT is not None, MISSING
    root = Path(tempfile.mkdtemp(prefix="reliability-imap-"))
    root.chmod(0o755)  # Dovecot's own users walk into it
    port, tls_port = free_port(), free_port()
    ca = trustme.CA()
    certificate = ca.issue_cert(HOST)
    certificate.cert_chain_pems[0].write_to_path(root / "cert.pem")
    certificate.private_key_pem.write_to_path(root / "key.pem")
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    for folder in ("mail", "home"):
        (root / folder).mkdir()
        if os.geteuid() == 0:
            os.chown(root / folder, pwd.getpwnam("nobody").pw_uid,
                     grp.getgrnam("nogroup").gr_gid)
    config = root / "dovecot.conf"
    config.write_text(_config(root, port, tls_port))
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(process, port, root)
        yield ImapServer(HOST, port, tls_port, root, ca)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(process: subprocess.Popen[bytes], port: int, root: Path) -> None:
    """Until Dovecot greets on its port; its log says why if it never does."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection((HOST, port), timeout=1) as connection:
                if connection.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    log = root / "dovecot.log"
    output = process.stdout.read().decode() if process.poll() is not None and process.stdout \
        else ""
    raise RuntimeError(f"Dovecot did not start: {output}"
                       f"{log.read_text() if log.exists() else ''}")
