#!/bin/sh
set -eu
app='Applications/Microsoft Visio'
mkdir -p "$app"
printf '#!/bin/sh\necho "Microsoft Visio %s"\n' "$PACKAGE_VERSION" > "$app/visio"
chmod 755 "$app/visio"
printf '%s\n' "$PACKAGE_VERSION" > "$app/VERSION"
echo "Installed Microsoft Visio $PACKAGE_VERSION into $(pwd)/$app"
