"""`triage serve` and `triage watch`: the Slack app and the on-call watcher."""

from __future__ import annotations

import sys

import click

from bot import config
from bot.cli import JSON, cli, emit, emit_json, settings
# -- Slack ------------------------------------------------------------------------------------


@cli.command()
@click.option("--http", "http_mode", is_flag=True, help="HTTP mode (Events API request URL) instead of Socket Mode.")
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True, help="Port for HTTP mode.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address for HTTP mode.")
@click.option("--workers", type=click.IntRange(1, 64), help="HTTP mode: worker processes behind the port (default 1).")
@click.option("--threads", type=click.IntRange(1, 256), help="HTTP mode: request threads per worker (default 8).")
@click.pass_context
def serve(ctx: click.Context, http_mode: bool, port: int, host: str, workers: int | None, threads: int | None) -> None:
    """Run the Slack app: /triage, the "Diagnose with triage" shortcut, buttons, modals, App Home.

    \b
    Socket Mode (default) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (xapp-…, connections:write)
    and no public URL. HTTP mode (--http) needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and serves
    POST /slack/events (and GET /healthz for a load balancer) with gunicorn: --workers processes
    share the port, each with --threads request threads; replays are refused across all of them.

    \b
    Examples:
      triage serve
      triage serve --http --port 8080
      triage serve --http --port 8080 --workers 2
    """
    from bot.slack.app import serve as serve_app

    if not http_mode and (workers or threads):
        raise click.UsageError("--workers and --threads are for HTTP mode: add --http")
    _log_to_terminal()
    serve_app(settings(ctx), http=http_mode, host=host, port=port, workers=workers or 1, threads=threads)


@cli.group(invoke_without_command=True)
@click.option("--once", is_flag=True, help="One poll cycle, then exit (cron-style).")
@click.option("--interval", type=click.FloatRange(5, 86_400), help="Seconds between polls (default: [watch] interval_s, 120).")
@click.option("--post-baseline", is_flag=True, help="On first start, post failures that already exist instead of recording them silently.")
@click.pass_context
def watch(ctx: click.Context, once: bool, interval: float | None, post_baseline: bool) -> None:
    """Alert on-call about new failures: one diagnosed Slack message per failure, updates in its thread.

    \b
    Polls every configured target; a Custom Vision iteration that became Failed, an Azure ML job
    that failed or a deployment whose provisioning failed, a Rekognition model that became
    TRAINING_FAILED or FAILED is posted once to the target's channel ([watch.routes], else
    [slack] alert_channel), mentioning [slack] oncall_group, with Acknowledge, Show logs and
    Draft ticket buttons. Recoveries, acknowledgements and drafted tickets go in the thread.
    State lives in the store (SQLite, or PostgreSQL when watchers run on several hosts): alerts
    survive crashes and restarts, and two watchers never both post.

    \b
    Examples:
      triage watch
      triage watch --once --post-baseline
      triage watch status --json
    """
    import signal

    from bot.slack.alerts import SlackSink, alert_client
    from bot.store import open_store
    from bot.watch import Watcher
    from bot.watch.watcher import open_waiting

    if ctx.invoked_subcommand is not None:
        return
    _log_to_terminal()
    s = settings(ctx)
    token = s.env.get("SLACK_BOT_TOKEN", "")
    if not token:
        raise config.ConfigError("SLACK_BOT_TOKEN is not set", hint="the watcher posts alerts with the bot token (xoxb-…)")
    w = s.config.watch
    client = alert_client(token, s.env.get("SLACK_API_URL"), timeout=w.slack_timeout_s, retries=w.SLACK_RETRIES, max_wait=w.slack_retry_wait_s)
    store = open_waiting(lambda: open_store(s.store_location(), s.config.store.busy_timeout_s), once=once)
    watcher = Watcher(s, store, SlackSink(client), post_baseline=post_baseline or None)
    if interval:
        watcher.interval = interval
    # A stop (deploy, Ctrl-C, systemd) releases the lease, so a standby watcher takes over at once.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        watcher.run(once=once)
    finally:
        watcher.release()


@watch.command("status")
@JSON
@click.option("--max-age", type=click.FloatRange(1), default=600.0, show_default=True, metavar="SECONDS",
              help="Exit 1 when the oldest unsent outbox entry is older than this.")
@click.pass_context
def watch_status(ctx: click.Context, as_json: bool, max_age: float) -> None:
    """How the watcher is: lease holder and expiry, last good poll per target, outbox backlog.

    Reads the store only, so it runs on any host that shares it. Exit code 1 when the oldest
    unsent outbox entry is older than --max-age: usable as a health check.

    \b
    Examples:
      triage watch status
      triage watch status --json --max-age 300
    """
    import time

    from bot.store import open_store
    from bot.watch.status import render, watch_status

    s = settings(ctx)
    store = open_store(s.store_location(), s.config.store.busy_timeout_s)
    try:
        status = watch_status(s, store, now=time.time(), max_age_s=max_age)
    finally:
        store.close()
    if as_json:
        emit_json(status.to_json())
    else:
        emit(render(status))
    if not status.healthy:
        sys.exit(1)


def _log_to_terminal() -> None:
    """INFO logs on stderr, made terminal-safe: they quote cloud and Slack text."""
    import logging

    from bot.terminal import SafeFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
