// March profiles: documented models of NPU accelerators (configs/marches/NAME.json, schema
// schemas/march.schema.json). Being written for issue 6.
#pragma once
