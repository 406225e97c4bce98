"""Tests of the Debian package linemon-agent."""
