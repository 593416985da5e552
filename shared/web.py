"""The HTTP side of every service: app factory, request-scoped session, errors, health and metrics.

A request is one unit of work: views add to `db_session()` and never commit; the session is committed
after a successful response and rolled back otherwise, so a failed request changes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, current_app, g, jsonify, request
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared import db, logs, metrics, openapi, tracing
from shared.auth import VerifiedTokens, authenticated, principal, roles_at, sees_site
from shared.config import Settings
from shared.health import Readiness
from shared.problems import Problem, from_validation, not_found, unstorable_text

log = logging.getLogger(__name__)


@dataclass
class ServiceState:
    service: object  # shared.service.Service
    settings: Settings
    engine: Engine
    sessions: sessionmaker
    readiness: Readiness
    # Set by a service that keeps a staff directory: see shared.auth.roles_at.
    role_directory: object | None = None
    tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    # See `read_session`; None where the database has none.
    read_engine: Engine | None = None
    read_sessions: sessionmaker | None = None


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["psp"].sessions()
        g.db_session.begin()
    return g.db_session


def read_session() -> Session:
    """The request's session for a view that only reads (`shared.db.make_read_engine`): each query one round
    trip, without BEGIN and COMMIT; the database refuses a write through it. Where the database has no read
    engine, the request's own session."""
    sessions = current_app.extensions["psp"].read_sessions
    if sessions is None:
        return db_session()
    if "read_session" not in g:
        g.read_session = sessions()
    return g.read_session


def create_service_app(service, settings: Settings | None = None) -> APIFlask:
    settings = settings or Settings()
    logs.configure(service.name, settings.log_level)
    tracing.configure_once(service.name)
    app = openapi.DocumentedApp(
        f"services.{service.name}",
        title=f"{service.name.capitalize()} API",
        version="1.0.0",
        spec_path="/openapi.json",
        docs_path="/docs",
    )
    # Chinese names travel as UTF-8, not \u escapes.
    app.json.ensure_ascii = False
    app.config.update(
        VALIDATION_ERROR_STATUS_CODE=422,
        AUTO_404_RESPONSE=False,
        # Errors are documented by shared.openapi, as the problem+json they are.
        AUTO_VALIDATION_ERROR_RESPONSE=False,
        AUTO_AUTH_ERROR_RESPONSE=False,
        MAX_CONTENT_LENGTH=settings.http_max_body_bytes,
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        INFO={"description": service.description},
    )
    engine = db.make_engine(settings.database_url_for(service.name))
    tracing.instrument_database(engine)
    readiness = Readiness(service.name, "api", engine, settings, broker_required=False)
    read_engine = db.make_read_engine(settings.database_url_for(service.name))
    if read_engine is not None:
        tracing.instrument_database(read_engine)
    app.extensions["psp"] = ServiceState(service, settings, engine, db.make_sessionmaker(engine), readiness,
                                         read_engine=read_engine,
                                         read_sessions=read_engine and db.make_sessionmaker(read_engine))
    tracing.continue_request_traces(app)

    _install_unit_of_work(app)
    _install_text_guard(app)
    _install_errors(app)
    openapi.document_problems(app)
    _install_operational_endpoints(app, readiness)
    metrics.mark_started(service.name, "api")
    return app


def _install_unit_of_work(app: APIFlask) -> None:
    @app.before_request
    def _start():
        g.started = time.perf_counter()
        g.correlation_token = tracing.set_correlation_id(request.headers.get("X-Correlation-ID"))

    @app.after_request
    def _finish(response: Response) -> Response:
        _close_read_session()
        session = g.pop("db_session", None)
        if session is not None:
            if response.status_code < 400:
                try:
                    session.commit()
                except DBAPIError as exc:
                    session.rollback()
                    response = _database_problem(exc).to_response()
            else:
                session.rollback()
            session.close()
        response.headers["X-Correlation-ID"] = tracing.correlation_id()
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.HTTP_REQUEST_DURATION.labels(
            app.extensions["psp"].service.name, request.method, route, str(response.status_code)
        ).observe(time.perf_counter() - g.started)
        return response

    @app.teardown_request
    def _cleanup(_exc):
        _close_read_session()
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
        token = g.pop("correlation_token", None)
        if token is not None:
            tracing.reset_correlation_id(token)


def _close_read_session() -> None:
    session = g.pop("read_session", None)
    if session is not None:
        session.close()


def _database_problem(exc: DBAPIError) -> Problem:
    """What a database error means to the client. A value the database refuses is bad input and a clash
    with a row written meanwhile is a conflict; neither is a server error."""
    if isinstance(exc, DataError):
        log.info("database refused a value: %s", exc.orig)
        return Problem(422, "Unprocessable Content", "A value does not fit what the database can hold.")
    if isinstance(exc, IntegrityError):
        log.info("constraint refused the change: %s", exc.orig)
        return Problem(409, "Conflict", "The change conflicts with a record written meanwhile; reload and retry.")
    if db.is_unreachable(exc):
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return Problem(503, "Service Unavailable", "The database cannot be reached; try again shortly.",
                       headers={"Retry-After": "5"})
    log.error("database error", exc_info=exc)
    return Problem(500, "Internal Server Error", "The request could not be completed.")


def _install_text_guard(app: APIFlask) -> None:
    """Text PostgreSQL or UTF-8 cannot hold (NUL, lone surrogates) is refused before any view sees it, the
    same on SQLite as on PostgreSQL. A request that is not authenticated is left to the view's 401."""

    @app.before_request
    def _refuse_unstorable_text():
        where = unstorable_text(request)
        if where is None or not request.headers.get("Authorization"):
            return
        if authenticated(request.headers["Authorization"]):
            location, field = where
            problem = Problem(422, "Unprocessable Content",
                              f"{field}: text may not hold the NUL character or an unpaired surrogate.",
                              field=field)
            problem.errors[0]["location"] = location
            return problem.to_response()


def _install_errors(app: APIFlask) -> None:
    @app.error_processor
    def _http_error(error: HTTPError):
        if error.status_code == 422 and isinstance(error.detail, dict) and error.detail:
            return from_validation(error.detail).to_response()
        detail = error.message if isinstance(error.message, str) else ""
        title = {401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
                 413: "Content Too Large"}.get(error.status_code, detail)
        if error.status_code == 401:
            detail = "A valid bearer token is required."
        return Problem(error.status_code, title or "Error", detail, headers=dict(error.headers or {})).to_response()

    @app.errorhandler(Problem)
    def _problem(problem: Problem):
        return problem.to_response()

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError):
        return _database_problem(exc).to_response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return Problem(500, "Internal Server Error", "The request could not be completed.").to_response()


def _install_operational_endpoints(app: APIFlask, readiness: Readiness) -> None:
    @app.get("/livez")
    @app.doc(hide=True)
    def livez():
        return jsonify(status="ok")

    @app.get("/readyz")
    @app.doc(hide=True)
    def readyz():
        report = readiness.check()
        return jsonify(report), (200 if report["ready"] else 503)

    @app.get("/metrics")
    @app.doc(hide=True)
    def metrics_endpoint():
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)


def get_visible(model, row_id: str, what: str):
    """The caller's organization's row with this id, at a site the caller sees, or a 404 that reveals
    nothing (X-1)."""
    row = db_session().get(model, row_id)
    caller = principal()
    if (row is None or row.organization_id != caller.organization_id
            or (getattr(row, "site_id", None) and not sees_site(row.site_id))):
        raise not_found(what)
    return row


def get_referenced(model, row_id: str, field: str, what: str):
    """A row a request body names: like `get_visible`, but an unknown one is bad input naming the field."""
    try:
        return get_visible(model, row_id, what)
    except Problem as missing:
        raise Problem(422, "Unprocessable Content", f"No such {what}.", field=field) from missing


def take_step(model, row_id: str, what: str, take, fields: dict):
    """A workflow step on a visible record: `take(session, row, actor=…, roles=…, **fields)`, with the
    caller's roles at the record's site."""
    row = get_visible(model, row_id, what)
    take(db_session(), row, actor=principal().subject, roles=roles_at(row.site_id), **fields)
    return row
