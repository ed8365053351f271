#!/bin/sh
# hdf5_flags.sh MODE — the C flags that build runtime/interop/hdf5.c with HDF5 (Keras's
# .h5 weights): the headers of Debian's libhdf5-dev (pkg-config hdf5) and the soname of
# the library that rnnc opens at run time. MODE auto: HDF5 when the headers are there,
# else nothing (rnnc then says HDF5 is not built in); 1: HDF5 or an error; 0: nothing.
set -u
mode=${1:-auto}
[ "$mode" = 0 ] && exit 0
if ! pkg-config --exists hdf5 2>/dev/null; then
  if [ "$mode" = 1 ]; then echo "hdf5_flags.sh: HDF5=1 needs libhdf5-dev (make deps installs it)" >&2; exit 1; fi
  exit 0
fi
soname=$(ldconfig -p 2>/dev/null | sed -n 's/^[[:space:]]*\(libhdf5_serial\.so\.[0-9][0-9]*\) .*/\1/p' | head -n 1)
[ -n "$soname" ] || soname=$(ldconfig -p 2>/dev/null | sed -n 's/^[[:space:]]*\(libhdf5\.so\.[0-9][0-9]*\) .*/\1/p' | head -n 1)
echo "-DRNN_HAVE_HDF5 $(pkg-config --cflags hdf5)${soname:+ -DRNN_HDF5_SONAME=\\\"$soname\\\"}"
