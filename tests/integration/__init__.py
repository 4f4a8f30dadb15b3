"""Home Assistant tests of the Enphase Enlighten integration."""
