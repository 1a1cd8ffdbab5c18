"""`triage watch`: poll the targets, detect new failures, alert once through an outbox.

Guarantees: an alert is recorded (alert row + outbox entry, one transaction) before it is posted
and marked posted after; a crash between the two is healed on restart by asking the sink whether
the message is already there. A lease lets one watcher poll at a time; a second one waits and
takes over when the first stops renewing. A target's first answer is its baseline: what already
fails then is recorded, not posted. Nothing in here imports Slack: the sink does.

Rooms: `lease` (who polls), `outbox` (what is sent, exactly once), `polling` (what the targets
say), `watcher` (the loop that ties them), `status` (how it is, for people and health checks).
"""

from bot.watch.lease import LEASE
from bot.watch.outbox import Sink, SinkThrottled
from bot.watch.polling import RECOVERED_TEXT, CycleReport
from bot.watch.watcher import Watcher, failure_from_json

__all__ = ["LEASE", "RECOVERED_TEXT", "CycleReport", "Sink", "SinkThrottled", "Watcher", "failure_from_json"]
