#!/bin/sh
set -eu
rm -rf 'Applications/Microsoft Visio'
echo "Removed Microsoft Visio"
