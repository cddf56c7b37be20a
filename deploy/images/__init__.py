"""Building the agent and control-plane images with whatever container tool is installed (`make images`),
on the public Python base or on a locally made Debian + Python base where no registry is reachable."""
