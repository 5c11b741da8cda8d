"""Policy: the action ladder and the business lane."""
