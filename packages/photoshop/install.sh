#!/bin/sh
set -eu
app='Applications/Adobe Photoshop'
mkdir -p "$app"
printf '#!/bin/sh\necho "Adobe Photoshop %s"\n' "$PACKAGE_VERSION" > "$app/photoshop"
chmod 755 "$app/photoshop"
printf '%s\n' "$PACKAGE_VERSION" > "$app/VERSION"
echo "Installed Adobe Photoshop $PACKAGE_VERSION into $(pwd)/$app"
