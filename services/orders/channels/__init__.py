"""Customer channels: the outbox (e-mail out, events to the shop), e-mail in, account changes, help center."""
