#!/bin/sh
set -eu
rm -rf 'Applications/Adobe Photoshop'
echo "Removed Adobe Photoshop"
