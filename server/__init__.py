"""Luisterend Oor server: the aiohttp application, storage, configuration and CLI.

Nothing here touches PyNaCl or argon2 directly: every cryptographic operation
goes through the `crypto` facade.
"""
