"""pytest settings for the app tests: the marker for the session without desktop services."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "no_desktop_services: runs in a session without tray host or notifications"
    )
