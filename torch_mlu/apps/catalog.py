"""Every application of the suite, in report order."""

from . import language, recommendation, speech, vision

APPS = {app.name: app for module in (vision, language, speech, recommendation)
        for app in module.APPS}
