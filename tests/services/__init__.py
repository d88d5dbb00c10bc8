"""Real servers the tests start themselves from Debian's packages, in temporary folders on free ports."""
