#!/bin/sh
# Exit 0 when this exact version is installed under the device's install root (the working directory).
[ "$(cat 'Applications/Adobe Photoshop/VERSION' 2>/dev/null)" = "$PACKAGE_VERSION" ]
