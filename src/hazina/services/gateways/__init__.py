"""Generic gateways: provider accounts of kind `generic`, several per merchant by name."""
