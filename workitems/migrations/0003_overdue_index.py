# The run dashboard's "has an overdue work item" filter (open items due before now).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('workitems', '0002_escalation_index'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='workitem',
            index=models.Index(condition=models.Q(('status', 'open')), fields=['due_at', 'run'], name='wi_open_due'),
        ),
    ]
