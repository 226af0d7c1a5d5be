"""jetdr-msa: an emulator of the JetStream DR Management Server Appliance."""

__version__ = "0.1.0"
PRODUCT_VERSION = "5.0.4"
PRODUCT_BUILD = "jetdr-msa-emulator"
