"""Every application of the suite, in report order."""

from . import language, recommendation, sharded, speech, vision

APPS = {app.name: app for module in (vision, language, sharded, speech, recommendation)
        for app in module.APPS}
