"""The Slack front end: the only package that imports slack_bolt / slack_sdk."""
