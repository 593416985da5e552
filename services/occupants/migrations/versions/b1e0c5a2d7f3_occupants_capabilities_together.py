"""occupants capabilities together: one head again

Revision ID: b1e0c5a2d7f3
Revises: da72fa29f198, occ_archives_02, occ_custody_02, occ_decoration_02, occ_movein_02, occ_people_02, occ_places_02, occ_profile_02, occ_staff_02
Create Date: 2026-12-01 14:42:59.206217

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = 'b1e0c5a2d7f3'
down_revision: Union[str, Sequence[str], None] = ('da72fa29f198', 'occ_archives_02', 'occ_custody_02', 'occ_decoration_02', 'occ_movein_02', 'occ_people_02', 'occ_places_02', 'occ_profile_02', 'occ_staff_02')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
