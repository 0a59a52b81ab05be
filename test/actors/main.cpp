// The CAF test runner's main(), once for every actor test of this executable.
#include <caf/test/unit_test_impl.hpp>
