"""seed004 as written: a ballot's voter group (member or masses, never who) so a poll can count 群众's
ballots apart, cleared when the poll closes; and branch_participation, the 党员参与率 in 三会一课 a
branch secretary enters from the branch's records. (The committee's star decisions live in the
rating's inputs, like the 上级评定 it enters.)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 17:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: batch mode would rebuild ballot, which SQLite keeps WITHOUT ROWID
    op.add_column('ballot', sa.Column('voter_group', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
    op.create_table(
        'branch_participation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('rate', sa.Float(), nullable=False),
        sa.Column('attended', sa.Integer(), nullable=True),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('entered_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('entered_on', sa.Date(), nullable=False),
        sa.Column('entered_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['branch_id'], ['branch.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_branch_participation_campaign_id', 'branch_participation', ['campaign_id'])


def downgrade() -> None:
    op.drop_index('ix_branch_participation_campaign_id', table_name='branch_participation')
    op.drop_table('branch_participation')
    with op.batch_alter_table('ballot', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('voter_group')
