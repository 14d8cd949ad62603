"""A stand-in for an AIGES Python wrapper."""

NAME = "demo-wrapper"
