"""The verbs. Each returns a dataclass; bot.render and bot.slack turn it into text or blocks."""
