"""Executors that run `edgeinpaint run` past one machine (Ray Data) over local or object storage."""
