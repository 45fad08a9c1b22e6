"""Campaign files shipped with 先锋: one per seed plan (实施方案). See docs/campaigns.md."""
