"""The shared access token: two clients of one app (the sender and the console's sign-in, in one
process or two) that fetch a token at the same moment both store it, neither fails."""
from __future__ import annotations

import asyncio

import aiohttp

from bot.wecom.api import WeComClient


async def test_two_clients_fetching_a_token_at_once_both_store_it(settings, engine, emulator):
    async with aiohttp.ClientSession() as http:
        clients = [WeComClient(settings, engine, http) for _ in range(2)]
        for client in clients:
            client._load_cached = lambda: None  # both missed the cache: each fetches, then stores
        tokens = await asyncio.gather(*(client.token() for client in clients))
    assert emulator.count("gettoken") == 2 and all(tokens)
    again = WeComClient(settings, engine, None)
    assert again._load_cached()[0] in tokens
