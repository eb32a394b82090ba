# Runs one OpenStack program of Debian's python3-* packages for the test bed, by its console
# script's name (the packages that ship the scripts also run debconf and systemd hooks), or
# serves Keystone or Placement as WSGI on a loopback port with the standard library's threaded
# server (their packaged servers are uwsgi or Apache units).
# Usage: run.py PROGRAM ARGS... | run.py serve keystone|placement HOST PORT
import importlib
import sys

PROGRAMS = {
    "keystone-manage": "keystone.cmd.manage",
    "placement-manage": "placement.cmd.manage",
    "glance-manage": "glance.cmd.manage",
    "glance-api": "glance.cmd.api",
    "nova-manage": "nova.cmd.manage",
    "nova-api": "nova.cmd.api",
    "nova-conductor": "nova.cmd.conductor",
    "nova-scheduler": "nova.cmd.scheduler",
    "nova-compute": "nova.cmd.compute",
    "neutron-db-manage": "neutron.db.migration.cli",
    "neutron-server": "neutron.cmd.eventlet.server",
    "heat-manage": "heat.cmd.manage",
    "heat-api": "heat.cmd.api",
    "heat-engine": "heat.cmd.engine",
}


def serve(name, host, port):
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True


    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # the services log their own requests
            pass

    sys.argv = [name]  # the applications parse the command line as their own
    if name == "keystone":
        from keystone.server.wsgi import initialize_public_application as init
    elif name == "placement":
        from placement.wsgi import init_application as init
    else:
        raise SystemExit("unknown application %r" % name)
    make_server(host, int(port), init(), server_class=Server, handler_class=Quiet).serve_forever()


if __name__ == "__main__":
    program = sys.argv[1]
    if program == "serve":
        serve(*sys.argv[2:5])
    else:
        if program == "neutron-server":
            # Eventlet's monkey patching first, as neutron.cmd.eventlet does: modules imported
            # before it keep the real threading.Lock (oslo.db's engine start lock among them),
            # and a green thread blocking on one while another holds it across a green read of
            # MariaDB's socket stops the whole server.
            import neutron.cmd.eventlet  # noqa: F401

            # Every model, and their mappers configured, so that relationships other plugins'
            # models add as backrefs (Port.port_forwardings, which ML2's port listing reads
            # before any query has configured them) exist without loading those plugins.
            import neutron.db.migration.models.head  # noqa: F401
            import sqlalchemy.orm

            sqlalchemy.orm.configure_mappers()
        sys.argv = [program] + sys.argv[2:]
        sys.exit(importlib.import_module(PROGRAMS[program]).main())
