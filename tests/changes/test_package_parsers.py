"""The package parsers on recorded captures: RHEL 8 `rpm -qa --qf` and `rpm -q --changelog`,
a Debian 12 `dpkg-query -W -f` pair and glibc's changelog.Debian from this machine."""

from __future__ import annotations

from triage.probes.package_parsers import (MAX_ENTRIES, MAX_ENTRY_CHARS, Package, changelog_queryformat,
                                           parse_debian_changelog, parse_dpkg_list, parse_rpm_changelog,
                                           parse_rpm_changelogs, parse_rpm_list, rpm_version, versions_by_name)

from .captures import read


def test_rpm_list_drops_epoch_zero_keeps_real_epochs_and_reads_source_packages():
    packages = {p.name: p for p in parse_rpm_list(read("rhel8-4.3.18.rpm-qa"))}
    assert len(packages) == 39
    assert packages["kernel-core"] == Package("kernel-core", "4.18.0-147.8.1.el8_1", "kernel")
    assert packages["glibc-common"] == Package("glibc-common", "2.28-101.el8", "glibc")
    assert packages["NetworkManager"].version == "1:1.20.0-5.el8_1"  # epoch 1 is part of the version
    assert packages["openshift-hyperkube"].source == "openshift"
    assert packages["gpg-pubkey"] == Package("gpg-pubkey", "fd431d51-4ae0493b", "gpg-pubkey")  # no source rpm


def test_rpm_version_forms():
    assert rpm_version("0:2.28-127.el8") == "2.28-127.el8"
    assert rpm_version("(none):2.28-127.el8") == "2.28-127.el8"
    assert rpm_version("2:5.0-2.el8") == "2:5.0-2.el8"


def test_two_kernels_installed_side_by_side_are_both_listed():
    text = read("rhel8-4.3.18.rpm-qa") + "kernel\t0:4.18.0-147.13.2.el8_1\tx86_64\tkernel-4.18.0-147.13.2.el8_1.src.rpm\n"
    versions = versions_by_name(parse_rpm_list(text))
    assert versions["kernel"] == "4.18.0-147.13.2.el8_1, 4.18.0-147.8.1.el8_1"
    assert versions["kernel-core"] == "4.18.0-147.8.1.el8_1"


def test_kernel_changelog_reads_releases_and_tagged_entries():
    entries = parse_rpm_changelog(read("rhel8-kernel-4.18.0-147.13.2.el8_1.changelog").splitlines())
    assert len(entries) == 17
    first = entries[0]
    assert first.version == "4.18.0-147.13.2.el8_1"
    assert first.text == ("[net] sched: flower: add missing validation of TCA_FLOWER_FLAGS attribute (Ivan Vecera) "
                          "[1822637 1807853]")
    assert [e.version for e in entries].count("4.18.0-147.8.1.el8_1") == 4
    assert entries[-1].text.startswith("[block] blk-mq: balance mapping")


def test_glibc_changelog_joins_continuation_lines_and_reads_dashed_versions():
    entries = parse_rpm_changelog(read("rhel8-glibc-2.28-127.el8.changelog").splitlines())
    assert [e.version for e in entries[:4]] == ["2.28-127", "2.28-125", "2.28-125", "2.28-111"]
    assert entries[1].text == ("Use the configured resolv.conf timeout for the first AAAA attempt (#1825281) "
                               "when single-request-reopen is in effect")


def test_one_rpm_call_for_many_changelogs_is_split_by_its_marker():
    marker = "::triage-0123abcd"
    assert changelog_queryformat(marker).startswith(marker + r" %{NAME} ")
    # A packager's line that looks like a marker of another run cannot start a section.
    forged = "- ::triage-ffff glibc 0:9.9-1\n"
    text = (f"{marker} kernel 0:4.18.0-147.13.2.el8_1\n" + read("rhel8-kernel-4.18.0-147.13.2.el8_1.changelog")
            + f"{marker} glibc 0:2.28-127.el8\n" + forged + read("rhel8-glibc-2.28-127.el8.changelog"))
    got = list(parse_rpm_changelogs(text.splitlines(), marker))
    assert [(name, version, len(entries)) for name, version, entries in got] == [
        ("kernel", "4.18.0-147.13.2.el8_1", 17), ("glibc", "2.28-127.el8", 8)]
    assert got[1][2][0].text == "::triage-ffff glibc 0:9.9-1"  # kept as the text it is


def test_a_changelog_longer_than_the_bound_keeps_its_newest_entries_each_cut():
    huge = [f"* Thu Apr 30 2020 Builder <b@example.com> [4.18.0-{i}.el8]\n- [net] {'x' * 1000} {i}\n\n"
            for i in range(500, 0, -1)]
    entries = parse_rpm_changelog("".join(huge).splitlines())
    assert len(entries) == MAX_ENTRIES
    assert entries[0].version == "4.18.0-500.el8" and entries[-1].version == f"4.18.0-{500 - MAX_ENTRIES + 1}.el8"
    assert {len(e.text) for e in entries} == {MAX_ENTRY_CHARS} and entries[0].text.endswith("…")


def test_dpkg_pair_keeps_installed_packages_only_and_drops_the_arch():
    before = {p.name: p for p in parse_dpkg_list(read("debian12-before.dpkg-query"))}
    after = {p.name: p for p in parse_dpkg_list(read("debian12-after.dpkg-query"))}
    assert "exim4-base" not in before  # status rc: removed, config files left
    assert before["libc6"] == Package("libc6", "2.36-9+deb12u13", "glibc")
    assert after["libc6"] == Package("libc6", "2.36-9+deb12u14", "glibc")
    assert after["bsdutils"].version == "1:2.38.1-5+deb12u3" and after["bsdutils"].source == "util-linux"
    assert set(after) - set(before) == {"bc"} and set(before) - set(after) == {"whois"}


def test_plain_dpkg_query_w_output_reads_too():
    text = "adduser\t3.134\nlibc6:amd64\t2.36-9+deb12u14\nnever-installed\t\n"
    assert parse_dpkg_list(text) == [Package("adduser", "3.134", "adduser"), Package("libc6", "2.36-9+deb12u14", "libc6")]


def test_debian_changelog_counts_each_bullet_and_reads_the_release_of_each():
    entries = parse_debian_changelog(read("debian12-glibc.changelog").splitlines())
    versions = [e.version for e in entries]
    assert versions[0] == "2.36-9+deb12u14" and "2.36-9+deb12u13" in versions
    newest = [e for e in entries if e.version == "2.36-9+deb12u14"]
    assert len(newest) == 17  # 2 "*" items and the 15 upstream fixes listed under the first
    assert newest[0].text == "debian/patches/git-updates.diff: update from upstream stable branch:"
    assert any(e.text.startswith("Fix incorrect handling of DNS responses in gethostbyaddr") for e in newest)
    assert not any("Aurelien Jarno" in e.text for e in entries)  # trailers are not entries
