"""The log-drop clients against real servers: vsftpd (ftp, ftps), OpenSSH sshd (sftp), a folder.

Every test gets a fresh, empty drop folder per protocol (``drop_server`` / ``make_drop`` in
``tests/fixtures/servers.py``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import subprocess
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paramiko
import pytest

from shutter_assets.lib.drop import DropError, RemoteFile, open_drop
from shutter_assets.lib.drop.ftp_listing import (
    FILE,
    FOLDER,
    OTHER,
    Entry,
    ListingError,
    ListReader,
    parse_list_line,
    parse_mlsd_line,
    server_offers_mlsd,
)
from tests.fixtures.servers import (
    PROTOCOLS,
    DropServer,
    SshdServer,
    free_port,
    make_drop_folder,
)

pytestmark = pytest.mark.integration

REMOTE = ["ftp", "ftps", "sftp"]
OTHER_DIALECTS = ["msdos_ftp", "mlsd_ftp"]  # pyftpdlib: LIST MS-DOS style; MLSD


def _listed(drop_server: DropServer) -> dict[str, RemoteFile]:
    with open_drop(drop_server.settings()) as drop:
        return {f.path: f for f in drop.list_files()}


def _stat_mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


# --------------------------------------------------------------------------- listing


@pytest.mark.parametrize("drop_server", [*PROTOCOLS, *OTHER_DIALECTS], indirect=True)
def test_lists_root_and_machine_folders_with_exact_sizes_and_mtimes(drop_server: DropServer):
    long_ago = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)  # LIST shows only the day for it
    recent = datetime.now(UTC) - timedelta(minutes=3, seconds=17)
    written = {
        "CU-01_20261120_060000.log": (b"timestamp;machine_id\n", long_ago),
        "CU-01/CU-01_20261120_070000.log": (b"x" * 12_345, recent),
        "CU-01/CU-01_20261120_060000 (1).log": (b"dup", recent),
        "SC-02/SC-02_20261120_080000.log.part": (b"", None),
        "AS-03/AS-03_20261121_000000.log": (os.urandom(70_001), None),
    }
    for relpath, (data, mtime) in written.items():
        drop_server.put(relpath, data, mtime)
    drop_server.put("archive/CU-01/CU-01_20261119_060000.log", b"already ingested")
    drop_server.put("archive/old.log", b"already ingested")
    drop_server.put("CU-01/deeper/nested.log", b"two levels down is not a machine folder")
    drop_server.mkdir("EMPTY-MACHINE")
    drop_server.put(".CU-01_20261120_090000.log.a1b2c3", b"hidden upload temporary (rsync, lftp)")
    drop_server.put("CU-01/.partial", b"hidden")
    drop_server.put(".hidden-folder/CU-01_20261120_090000.log", b"hidden folder")

    with open_drop(drop_server.settings()) as drop:
        files = drop.list_files()

    assert [f.path for f in files] == sorted(written)
    for remote in files:
        local = drop_server.path(remote.path)
        assert remote.size == local.stat().st_size == len(written[remote.path][0])
        assert remote.mtime.tzinfo is not None and remote.mtime.utcoffset() == timedelta(0)
        assert abs(remote.mtime - _stat_mtime(local)) < timedelta(seconds=1), remote.path
    by_path = {f.path: f for f in files}
    assert abs(by_path["CU-01_20261120_060000.log"].mtime - long_ago) < timedelta(seconds=1)


def test_empty_drop_lists_nothing(drop_server: DropServer):
    drop_server.mkdir("archive")
    assert _listed(drop_server) == {}


@pytest.mark.parametrize("drop_server", ["ftp", "sftp", "local", "ftps"], indirect=True)
def test_lists_ten_thousand_files(drop_server: DropServer):
    """The sensor lists the whole drop every tick; see bench/drop_listing.py for the timing."""
    for machine in range(20):
        folder = drop_server.mkdir(f"CU-{machine:02d}")
        for n in range(500):
            (folder / f"CU-{machine:02d}_20261120_{n:06d}.log").write_bytes(b"%d" % n)
    if drop_server.uid >= 0:
        subprocess.run(
            ["chown", "-R", f"{drop_server.uid}:{drop_server.gid}", str(drop_server.root)],
            check=True,
        )

    files = _listed(drop_server)

    assert len(files) == 10_000
    assert files["CU-07/CU-07_20261120_000123.log"].size == 3
    assert files["CU-19/CU-19_20261120_000499.log"].size == 3


def _put_raw(drop_server: DropServer, folder: str, name: bytes, data: bytes) -> None:
    """A file whose name is raw bytes, as a person's Windows tool leaves it on the server."""
    parent = os.fsencode(drop_server.mkdir(folder) if folder else drop_server.root)
    target = os.path.join(parent, name)
    with open(target, "wb") as out:
        out.write(data)
    if drop_server.uid >= 0:
        os.chown(target, drop_server.uid, drop_server.gid)


@pytest.mark.parametrize("drop_server", [*PROTOCOLS, *OTHER_DIALECTS], indirect=True)
def test_an_unreadable_name_is_skipped_and_reported_and_every_other_file_flows(
    drop_server: DropServer,
):
    drop_server.put("CU-01/CU-01_20261120_060000.log", b"fine")
    drop_server.put("CU-02_20261120_060000.log", b"fine too")
    _put_raw(drop_server, "", b"Relev\xe9 production.txt", b"dropped by a person from Windows")
    _put_raw(drop_server, "CU-01", b"CU-01_caf\xe9.log", b"name in Windows-1252")
    _put_raw(drop_server, "CU-01", b"tab\there.log", b"a control character")
    _put_raw(drop_server, "CU-01", b"new\nline.log", b"a line break inside an FTP listing line")
    _put_raw(drop_server, "", b"back\\slash.log", b"a Windows path")
    folder = os.path.join(os.fsencode(drop_server.root), b"D\xe9p\xf4t")  # not UTF-8 either
    os.mkdir(folder)
    if drop_server.uid >= 0:
        os.chown(folder, drop_server.uid, drop_server.gid)
    _put_raw(drop_server, "", b"D\xe9p\xf4t/CU-03_20261120_060000.log", b"inside")

    with open_drop(drop_server.settings()) as drop:
        listing = drop.list_files()
        with drop.open_read("CU-02_20261120_060000.log") as stream:
            assert stream.read() == b"fine too"

    assert [f.path for f in listing] == [
        "CU-01/CU-01_20261120_060000.log",
        "CU-02_20261120_060000.log",
    ]
    assert [(s.path, s.reason) for s in listing.skipped] == [
        ("CU-01/CU-01_caf\\xe9.log", "the name is not UTF-8"),
        ("CU-01/new\\nline.log", "the name holds the control character \\n"),
        ("CU-01/tab\\there.log", "the name holds the control character \\t"),
        ("D\\xe9p\\xf4t", "the name is not UTF-8"),
        ("Relev\\xe9 production.txt", "the name is not UTF-8"),
        ("back\\slash.log", "it holds a backslash (a Windows path); drop paths use '/'"),
    ]


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("drop_server", [*PROTOCOLS, *OTHER_DIALECTS], indirect=True)
def test_downloads_exact_bytes(drop_server: DropServer):
    payload = "2026-11-20 06:02:00;CU-01;ALARM;;;E1042;Défaut broche\r\n".encode("cp1252")
    drop_server.put("CU-01/CU-01_20261120_060000.log", payload)
    drop_server.put("empty.log", b"")

    with open_drop(drop_server.settings()) as drop:
        with drop.open_read("CU-01/CU-01_20261120_060000.log") as stream:
            assert stream.read() == payload
        with drop.open_read("empty.log") as stream:
            assert stream.read() == b""
        # the connection is reusable after a complete download
        assert len(drop.list_files()) == 2


def test_streams_a_large_file_without_holding_it_in_memory(drop_server: DropServer):
    size = 40 * 1024 * 1024 + 7
    big = drop_server.put("SC-02/SC-02_20261120_000000.log", os.urandom(size))
    expected = hashlib.sha256(big.read_bytes()).hexdigest()

    digest, received, largest_read = hashlib.sha256(), 0, 0
    with open_drop(drop_server.settings()) as drop:
        tracemalloc.start()
        try:
            with drop.open_read("SC-02/SC-02_20261120_000000.log") as stream:
                while chunk := stream.read(1024 * 1024):
                    digest.update(chunk)
                    received += len(chunk)
                    largest_read = max(largest_read, len(chunk))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert received == size
    assert digest.hexdigest() == expected
    assert largest_read <= 1024 * 1024
    assert peak < 16 * 1024 * 1024, f"peak Python memory {peak} bytes for a {size}-byte file"


def test_missing_file_is_a_drop_error(drop_server: DropServer):
    with open_drop(drop_server.settings()) as drop, pytest.raises(DropError, match=r"gone\.log"):
        drop.open_read("gone.log")


@pytest.mark.parametrize("drop_server", REMOTE, indirect=True)
# paramiko's own prefetch thread dies with EOFError when the server goes away; that is expected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_connection_killed_mid_download_raises_instead_of_a_short_file(drop_server: DropServer):
    size = 48 * 1024 * 1024
    drop_server.put("CU-01/CU-01_20261120_000000.log", os.urandom(size))

    received = 0
    with open_drop(drop_server.settings()) as drop:
        with (
            pytest.raises(DropError, match=r"CU-01_20261120_000000\.log.*failed"),
            drop.open_read("CU-01/CU-01_20261120_000000.log") as stream,
        ):
            received += len(stream.read(1024 * 1024))
            assert drop_server.kill_sessions() > 0
            while chunk := stream.read(1024 * 1024):
                received += len(chunk)
        assert 0 < received < size
        # the next call reconnects instead of reusing the dead connection
        assert [f.path for f in drop.list_files()] == ["CU-01/CU-01_20261120_000000.log"]


@pytest.mark.parametrize("drop_server", REMOTE, indirect=True)
def test_abandoned_download_leaves_the_drop_usable(drop_server: DropServer):
    drop_server.put("big.log", os.urandom(8 * 1024 * 1024))
    drop_server.put("small.log", b"small")
    with open_drop(drop_server.settings()) as drop:
        with drop.open_read("big.log") as stream:
            assert len(stream.read(1000)) == 1000
        with drop.open_read("small.log") as stream:
            assert stream.read() == b"small"
        assert drop.archive("small.log") == "archive/small.log"


@pytest.mark.parametrize("drop_server", ["ftp", "ftps"], indirect=True)
def test_ftp_refuses_a_second_command_while_a_download_is_open(drop_server: DropServer):
    """FTP has one control connection: a listing in the middle of a RETR would corrupt both."""
    drop_server.put("a.log", b"a" * 100_000)
    with open_drop(drop_server.settings()) as drop:
        with drop.open_read("a.log") as stream:
            with pytest.raises(DropError, match=r"a\.log.*still open"):
                drop.list_files()
            assert stream.read() == b"a" * 100_000
        assert [f.path for f in drop.list_files()] == ["a.log"]


# --------------------------------------------------------------------------- archiving


@pytest.mark.parametrize("drop_server", [*PROTOCOLS, *OTHER_DIALECTS], indirect=True)
def test_archive_moves_the_file_keeping_its_relative_path(drop_server: DropServer):
    drop_server.put("CU-01/CU-01_20261120_060000.log", b"machine file")
    drop_server.put("SC-02_20261120_060000.log", b"root file")
    drop_server.put("CU-01/CU-01_20261120_070000.log", b"stays")

    with open_drop(drop_server.settings()) as drop:
        first = drop.archive("CU-01/CU-01_20261120_060000.log")
        second = drop.archive("SC-02_20261120_060000.log")
        remaining = [f.path for f in drop.list_files()]

    assert first == "archive/CU-01/CU-01_20261120_060000.log"
    assert second == "archive/SC-02_20261120_060000.log"
    assert remaining == ["CU-01/CU-01_20261120_070000.log"]
    assert drop_server.path(first).read_bytes() == b"machine file"
    assert drop_server.path(second).read_bytes() == b"root file"
    assert not drop_server.path("CU-01/CU-01_20261120_060000.log").exists()

    drop_server.put("CU-01/CU-01_20261120_080000.log", b"archive folder already exists")
    with open_drop(drop_server.settings()) as drop:
        assert drop.archive("CU-01/CU-01_20261120_080000.log") == (
            "archive/CU-01/CU-01_20261120_080000.log"
        )
    assert drop_server.path("archive/CU-01/CU-01_20261120_080000.log").exists()


def test_archiving_a_missing_file_is_a_drop_error(drop_server: DropServer):
    with open_drop(drop_server.settings()) as drop, pytest.raises(DropError, match=r"gone\.log"):
        drop.archive("gone.log")


@pytest.mark.parametrize(
    "bad_path", ["../escape.log", "/etc/passwd", "CU-01/../../escape.log", "..", ""]
)
def test_paths_leaving_the_drop_are_refused(drop_server: DropServer, bad_path: str):
    outside = drop_server.root.parent / "escape.log"
    outside.write_bytes(b"outside the drop")
    try:
        with open_drop(drop_server.settings()) as drop:
            with pytest.raises(DropError, match="refused"):
                drop.open_read(bad_path)
            with pytest.raises(DropError, match="refused"):
                drop.archive(bad_path)
        assert outside.read_bytes() == b"outside the drop"
    finally:
        outside.unlink()


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("drop_server", REMOTE, indirect=True)
def test_wrong_password_is_a_clear_drop_error(drop_server: DropServer):
    settings = drop_server.settings(password="not-the-password")
    with pytest.raises(DropError) as caught:
        open_drop(settings).__enter__()
    message = str(caught.value)
    assert f"{settings.user}@{settings.host}:{settings.port}" in message
    assert "refused" in message and "FTP_PASSWORD" in message


def test_missing_remote_folder_is_a_clear_drop_error(drop_server: DropServer):
    missing = f"{drop_server.remote_dir}/no-such-folder"
    with pytest.raises(DropError, match=r"no-such-folder.*FTP_REMOTE_DIR"):
        open_drop(drop_server.settings(remote_dir=missing)).__enter__()


@pytest.mark.parametrize("drop_server", REMOTE, indirect=True)
def test_unreachable_server_is_a_drop_error(drop_server: DropServer):
    closed_port = free_port()
    with pytest.raises(DropError, match=rf"127\.0\.0\.1:{closed_port}\b.*FTP_PORT"):
        open_drop(drop_server.settings(port=closed_port, timeout_s=3)).__enter__()


@pytest.mark.parametrize("drop_server", REMOTE, indirect=True)
def test_server_that_never_answers_times_out_as_a_drop_error(drop_server: DropServer):
    """A TCP port that accepts connections but never speaks (a hung server, a wrong service)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(DropError, match=rf"127\.0\.0\.1:{port}\b"):
            open_drop(drop_server.settings(port=port, timeout_s=1)).__enter__()


@pytest.mark.parametrize("protocol,default_port", [("ftp", 21), ("sftp", 22)])
def test_port_zero_means_the_protocols_default_port(make_drop, protocol, default_port):
    settings = make_drop(protocol).settings(host="127.0.0.2", port=0, timeout_s=3)
    # Nothing of ours listens on 127.0.0.2: whatever answers (or not), the error names the port.
    with pytest.raises(DropError, match=rf"127\.0\.0\.2:{default_port}\b"):
        open_drop(settings).__enter__()


@pytest.mark.parametrize("drop_server", ["ftps"], indirect=True)
def test_ftps_refuses_an_untrusted_certificate(drop_server: DropServer):
    with pytest.raises(DropError, match=r"TLS.*certificate"):
        open_drop(drop_server.settings(tls_ca_file="")).__enter__()


@pytest.mark.parametrize("drop_server", ["ftps"], indirect=True)
def test_ftps_encrypts_the_data_connection(drop_server: DropServer):
    drop_server.put("a.log", b"secret")
    with open_drop(drop_server.settings()) as drop:
        assert drop._ftp._prot_p  # PROT P negotiated: listings and files go over TLS
        with drop.open_read("a.log") as stream:
            assert stream.read() == b"secret"


# --------------------------------------------------------------------------- SFTP host keys


def _public_key_line(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A fresh ed25519 key pair: (private key file, "ssh-ed25519 AAAA..." of its public key)."""
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    return key, " ".join(key.with_suffix(".pub").read_text().split()[:2])


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME without ~/.ssh/known_hosts, so "known_hosts empty" really knows no key."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_known_host_key_is_accepted(drop_server: DropServer):
    drop_server.put("a.log", b"a")
    assert list(_listed(drop_server)) == ["a.log"]


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_unknown_host_key_is_refused(drop_server: DropServer, tmp_path: Path):
    other_host = tmp_path / "known_hosts"
    other_host.write_text(f"[10.9.8.7]:22 {_public_key_line(tmp_path, 'other_key')[1]}\n")
    with pytest.raises(DropError, match=r"not in .*known_hosts.*refused"):
        open_drop(drop_server.settings(known_hosts=str(other_host))).__enter__()


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_changed_host_key_is_refused(drop_server: DropServer, tmp_path: Path):
    settings = drop_server.settings()
    changed = tmp_path / "known_hosts"
    changed.write_text(
        f"[{settings.host}]:{settings.port} {_public_key_line(tmp_path, 'other_key')[1]}\n"
    )
    with pytest.raises(DropError, match="differs"):
        open_drop(
            drop_server.settings(known_hosts=str(changed), insecure_accept_any_host_key=True)
        ).__enter__()


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_missing_known_hosts_file_is_a_drop_error(drop_server: DropServer, tmp_path: Path):
    with pytest.raises(DropError, match="does not exist"):
        open_drop(drop_server.settings(known_hosts=str(tmp_path / "nope"))).__enter__()


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_without_known_hosts_refuses_unless_insecure_flag(
    drop_server: DropServer, empty_home: Path, caplog: pytest.LogCaptureFixture
):
    drop_server.put("a.log", b"a")
    with pytest.raises(DropError, match="refused"):
        open_drop(drop_server.settings(known_hosts="")).__enter__()

    insecure = drop_server.settings(known_hosts="", insecure_accept_any_host_key=True)
    with (
        caplog.at_level(logging.WARNING, logger="shutter_assets.lib.drop.sftp"),
        open_drop(insecure) as drop,
    ):
        assert [f.path for f in drop.list_files()] == ["a.log"]
    assert "UNVERIFIED host key ssh-ed25519" in caplog.text


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_insecure_flag_is_ignored_when_known_hosts_is_set(
    drop_server: DropServer, tmp_path: Path
):
    unrelated = tmp_path / "known_hosts"
    unrelated.write_text(f"[10.9.8.7]:22 {_public_key_line(tmp_path, 'other_key')[1]}\n")
    with pytest.raises(DropError, match="refused"):
        open_drop(
            drop_server.settings(known_hosts=str(unrelated), insecure_accept_any_host_key=True)
        ).__enter__()


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_known_hosts_lines_paramiko_cannot_read_are_skipped_with_their_line_number(
    drop_server: DropServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    settings = drop_server.settings()
    server_key = drop_server.server.host_key_line
    _, other = _public_key_line(tmp_path, "other")
    _, ca = _public_key_line(tmp_path, "ca")
    hashed_host = paramiko.HostKeys.hash_host(f"[{settings.host}]:{settings.port}")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_bytes(
        "\n".join(
            [
                "# plant SFTP servers",  # 1
                f"@cert-authority *.example.org {ca}",  # 2
                f"@revoked [10.9.8.7]:22 {other}",  # 3: honoured, not skipped
                "this line is garbage",  # 4
                "badhost ssh-ed25519 !!!!",  # 5
                f"|1|bm90IGJhc2U2NA!!|xyz= {other}",  # 6: a broken hashed name
                "host.example.org ssh-foo AAAAB3NzaC1yc2E=",  # 7
                f"@future-marker host {other}",  # 8
                f"{hashed_host} {server_key}",  # 9: our server, hashed
                "",
            ]
        ).encode()
        + b"\xff\xfe garbage\n"  # 10: not even UTF-8
    )
    drop_server.put("CU-01_20261120_060000.log", b"x")

    with (
        caplog.at_level(logging.WARNING, logger="shutter_assets.lib.drop.known_hosts"),
        open_drop(drop_server.settings(known_hosts=str(known_hosts))) as drop,
    ):
        assert [f.path for f in drop.list_files()] == ["CU-01_20261120_060000.log"]

    skipped = {
        int(r.getMessage().split(" line ")[1].split()[0]): r.getMessage() for r in caplog.records
    }
    assert sorted(skipped) == [2, 4, 5, 6, 7, 8, 10]
    assert all(f"known_hosts {known_hosts} line" in m for m in skipped.values())
    assert "@cert-authority lines are not supported" in skipped[2]
    assert "malformed hashed host name" in skipped[6]
    assert "unknown marker '@future-marker'" in skipped[8]


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
@pytest.mark.parametrize(
    ("patterns", "verified"),
    [
        ("[127.0.0.*]:{port}", True),
        ("[127.0.0.?]:{port},other.example.org", True),
        ("[127.0.0.*]:{port},![127.0.0.1]:{port}", False),  # an exclusion wins
        ("127.0.0.*", False),  # off port 22 the name to match is "[127.0.0.1]:port"
    ],
)
def test_sftp_known_hosts_wildcard_patterns_match_as_in_openssh(
    drop_server: DropServer, tmp_path: Path, patterns: str, verified: bool
):
    known_hosts = tmp_path / "known_hosts"
    line = f"{patterns.format(port=drop_server.settings().port)} {drop_server.server.host_key_line}"
    known_hosts.write_text(line + "\n")
    settings = drop_server.settings(known_hosts=str(known_hosts))
    if verified:
        with open_drop(settings) as drop:
            assert drop.list_files() == []
    else:
        with pytest.raises(DropError, match=r"not in .*known_hosts.*refused"):
            open_drop(settings).__enter__()


@pytest.mark.parametrize("drop_server", ["sftp"], indirect=True)
def test_sftp_revoked_host_key_is_refused_even_where_another_line_lists_it(
    drop_server: DropServer, tmp_path: Path
):
    settings = drop_server.settings()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(
        f"[{settings.host}]:{settings.port} {drop_server.server.host_key_line}\n"
        f"@revoked * {drop_server.server.host_key_line}\n"
    )
    with pytest.raises(DropError, match=r"line 2 of .*known_hosts marks @revoked: refused"):
        open_drop(drop_server.settings(known_hosts=str(known_hosts))).__enter__()


def test_sftp_server_verifiable_only_through_a_ca_gets_the_line_to_add(
    drop_user, drop_home_area, tmp_path: Path
):
    ca_key, ca_public = _public_key_line(tmp_path, "host_ca")
    with SshdServer(drop_user, host_ca=ca_key) as sshd:
        drop = make_drop_folder("sftp", drop_home_area, sshd, drop_user)
        drop.put("CU-01_20261120_060000.log", b"x")
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(f"@cert-authority 127.0.0.1,*.example.org {ca_public}\n")

        with pytest.raises(DropError) as caught:
            open_drop(drop.settings(known_hosts=str(known_hosts))).__enter__()
        message = str(caught.value)
        assert "only the @cert-authority line(s) 1 of" in message
        assert "cannot check host certificates" in message
        line = f"[127.0.0.1]:{sshd.port} {sshd.host_key_line}"
        assert f"as the line '{line}'" in message

        # doing what the message says is enough
        known_hosts.write_text(known_hosts.read_text() + line + "\n")
        with open_drop(drop.settings(known_hosts=str(known_hosts))) as sftp:
            assert [f.path for f in sftp.list_files()] == ["CU-01_20261120_060000.log"]


def test_unknown_protocol_is_a_drop_error():
    from shutter_assets.lib.drop import DropSettings

    with pytest.raises(DropError, match="FTP_PROTOCOL"):
        open_drop(DropSettings(protocol="gopher")).__enter__()


# --------------------------------------------------------------------------- FTP dialects


@pytest.mark.parametrize(
    ("drop_server", "command"), [("msdos_ftp", "LIST"), ("mlsd_ftp", "MLSD"), ("ftp", "LIST")],
    indirect=["drop_server"],
)  # fmt: skip
def test_mlsd_is_used_exactly_when_feat_offers_it(drop_server: DropServer, command: str):
    drop_server.put("CU-01/CU-01_20261120_060000.log", b"x" * 102)
    with open_drop(drop_server.settings()) as drop:
        sent = []
        real_retrbinary = drop._ftp.retrbinary
        drop._ftp.retrbinary = lambda cmd, *a, **kw: (
            sent.append(cmd) or real_retrbinary(cmd, *a, **kw)
        )
        assert [(f.path, f.size) for f in drop.list_files()] == [
            ("CU-01/CU-01_20261120_060000.log", 102)
        ]
    assert sent == [command, command]  # the drop folder, then the machine folder


@pytest.mark.parametrize("drop_server", ["garbled_ftp"], indirect=True)
def test_a_listing_line_no_dialect_reads_is_an_error_naming_it_never_an_empty_drop(
    drop_server: DropServer,
):
    drop_server.put("CU-01_20261120_060000.log", b"x" * 102)
    with open_drop(drop_server.settings()) as drop:
        with pytest.raises(DropError) as caught:
            drop.list_files()
        # the drop stays usable for the next tick
        with pytest.raises(DropError, match=re.escape("CU-01_20261120_060000.log 102 bytes")):
            drop.list_files()
    message = str(caught.value)
    assert "unexpected LIST line 'CU-01_20261120_060000.log 102 bytes'" in message
    assert drop_server.remote_dir in message and "\n" not in message


def _at(*fields: int) -> float:
    """A UTC time as the epoch seconds an Entry holds."""
    return datetime(*fields, tzinfo=UTC).timestamp()


def test_unix_list_lines():
    parse = parse_list_line
    assert parse("drwxr-xr-x    2 1001     1001         4096 Jan 09  2024 CU-01") == Entry(
        "CU-01", FOLDER, 4096, _at(2024, 1, 9), exact=False
    )
    assert parse("-rw-r--r--    1 ftp      ftp      10737418240 Mar 14  2024 CU-01_x (1).log") == (
        Entry("CU-01_x (1).log", FILE, 10737418240, _at(2024, 3, 14), False)
    )
    recent = parse("-rw-r--r--    1 ftp      ftp           12 Jan 09 08:15 a.log")
    assert (recent.kind, recent.size, recent.mtime.strftime("%m-%d %H:%M")) == (
        FILE, 12, "01-09 08:15",
    )  # fmt: skip
    # GNU ls marks an ACL with an 11th mode character
    assert parse("-rw-r--r--+   1 ftp      ftp           12 Mar 14  2024 acl.log").size == 12
    assert parse("lrwxrwxrwx    1 ftp      ftp            5 Jan 09  2024 link -> x").kind == OTHER
    assert parse("total 12") is None


def test_one_reader_reads_a_whole_listing_in_either_dialect():
    """A reader keeps the dialect that read the last line and remembers dates it has read; the
    entries must not suffer from either."""
    reader = ListReader()
    unix = [
        "-rw-r--r--    1 ftp      ftp            1 Mar 14  2024 a.log",
        "-rw-r--r--    1 ftp      ftp            2 Mar 14  2024 b.log",
        "-rw-r--r--    1 ftp      ftp            3 Mar 15  2024 c.log",
    ]
    msdos = [
        "11-20-26  06:05AM                    4 d.log",
        "11-20-26  06:06AM                    5 e.log",
        "11-20-26  06:05AM       <DIR>          CU-01",
    ]
    entries = [reader.parse(line) for line in [*unix, *msdos, *unix[:1]]]
    assert [(e.name, e.size, e.timestamp) for e in entries] == [
        ("a.log", 1, _at(2024, 3, 14)),
        ("b.log", 2, _at(2024, 3, 14)),
        ("c.log", 3, _at(2024, 3, 15)),
        ("d.log", 4, _at(2026, 11, 20, 6, 5)),
        ("e.log", 5, _at(2026, 11, 20, 6, 6)),
        ("CU-01", None, _at(2026, 11, 20, 6, 5)),
        ("a.log", 1, _at(2024, 3, 14)),
    ]
    assert entries[0].mtime == datetime(2024, 3, 14, tzinfo=UTC)


def test_msdos_list_lines():
    parse = parse_list_line
    assert parse("11-20-26  06:05AM                  102 CU-01_20261120_060000.log") == Entry(
        "CU-01_20261120_060000.log", FILE, 102, _at(2026, 11, 20, 6, 5), False
    )
    assert parse("11-20-26  06:05PM       <DIR>          CU-01") == Entry(
        "CU-01", FOLDER, None, _at(2026, 11, 20, 18, 5), False
    )
    assert parse("11-20-2026  12:05AM         7 Relevé production.txt") == Entry(
        "Relevé production.txt", FILE, 7, _at(2026, 11, 20, 0, 5), False
    )
    # the 24-hour clock of some PLC servers
    assert parse("11-20-2026  18:05         7 a.log").timestamp == _at(2026, 11, 20, 18, 5)
    assert parse("11-20-26  00:30       <DIR>          CU-01").timestamp == _at(2026, 11, 20, 0, 30)
    assert parse("11-20-26  12:30    1 b.log").timestamp == _at(2026, 11, 20, 12, 30)


def test_mlsd_lines():
    assert parse_mlsd_line("type=file;size=102;modify=20261120050503.250; CU-01 x.log") == Entry(
        "CU-01 x.log", FILE, 102, _at(2026, 11, 20, 5, 5, 3, 250000), True
    )
    assert parse_mlsd_line("Type=dir;Modify=20261120050503; CU-01").kind == FOLDER
    assert parse_mlsd_line("type=cdir;modify=20261120050503; .").kind == OTHER
    assert parse_mlsd_line("type=OS.unix=slink:/x;size=1; link").kind == OTHER
    with pytest.raises(ListingError, match="no size"):
        parse_mlsd_line("type=file;modify=20261120050503; a.log")
    with pytest.raises(ListingError, match="modify=2026"):
        parse_mlsd_line("type=file;size=1;modify=2026; a.log")


@pytest.mark.parametrize(
    "line",
    [
        "-rw-r--r--    1 ftp      ftp      many Jan 09 08:15 odd.log",
        "CU-01_20261120_060000.log 102 bytes",
        "11-20-26  06:05AM   lots CU-01_20261120_060000.log",
        "13-45-26  06:05AM   102 CU-01_20261120_060000.log",
    ],
)
def test_list_lines_no_dialect_reads_are_errors_quoting_the_line(line):
    with pytest.raises(ListingError) as caught:
        parse_list_line(line)
    assert repr(line) in str(caught.value)


def test_feat_reply_decides_mlsd():
    assert server_offers_mlsd("211-Features:\n MDTM\n MLST type*;size*;modify*;\n211 End")
    assert not server_offers_mlsd("211-Features:\n EPRT\n MDTM\n PASV\n SIZE\n211 End")
