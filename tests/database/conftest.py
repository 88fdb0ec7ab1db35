@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    bindir = _find_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found; .ci/run installs them with apt-get"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    run_as = "nobody" if os.geteuid() == 0 else None
    # Not under pytest's tmp dir: its parents are mode 0700 for root, and nobody must enter.
    root = tempfile.mkdtemp(prefix="triage-pg-")
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = os.path.join(root, "data")
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w") as fh:
        fh.write("unused-superuser-password\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam(run_as).pw_uid, -1)
    _run([os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile, "-E", "UTF8",
          "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"], run_as, root)
    libdir = subprocess.run([os.path.join(bindir, "pg_config"), "--pkglibdir"], capture_output=True,
                            text=True).stdout.strip() if os.path.exists(os.path.join(bindir, "pg_config")) else ""
    has_pss = bool(glob.glob(os.path.join(libdir or os.path.join(os.path.dirname(bindir), "lib"),
                                          "pg_stat_statements.so")))
    port = _free_port()
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{root}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "40",
        "password_encryption": "'scram-sha-256'",
    }
    if has_pss:
        settings["shared_preload_libraries"] = "'pg_stat_statements'"
    with open(os.path.join(data, "postgresql.conf"), "a") as fh:
        fh.write("\n# triage tests\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    pg_ctl = os.path.join(bindir, "pg_ctl")
    _run([pg_ctl, "-D", data, "-l", os.path.join(root, "server.log"), "-w", "-t", "60", "start"], run_as, root)
    server = PostgresServer(bindir, root, port, has_pss, run_as)
    try:
        with server.admin("postgres") as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
            conn.execute(f"CREATE DATABASE {PLAIN_DATABASE} OWNER {ROLE}")
        with server.admin(DATABASE) as conn:
            if has_pss:
                conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute(f"SET ROLE {ROLE}")
            conn.execute(SCHEMA)
        yield server
    finally:
        _run([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], run_as, root)
        shutil.rmtree(root, ignore_errors=True)
