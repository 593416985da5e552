"""Keys (ACC-1): the register, handover at move-in signed for, custody, lending, lost keys."""
