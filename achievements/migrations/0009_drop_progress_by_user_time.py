from django.db import migrations


class Migration(migrations.Migration):
    """The unique (user, achievement) index serves a user's progress list; a second index
    by (user, updated_at) cost every progress write an index entry, and most of the progress
    upsert of an event batch."""

    dependencies = [
        ("achievements", "0008_holder_counts"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="progress", name="progress_by_user_time"),
    ]
