// RUN: sparsec opt %s --split-input-file --verify-diagnostics
// Run-time sizes: one index operand per -1 of a shape, of index type, on an axis that exists.

"func.func"() <{function_type = (tensor<?x64xf32>) -> tensor<?x2x32xf32>, sym_name = "reshape_missing_size"}> ({
^bb0(%arg0: tensor<?x64xf32>):
  // expected-error @+1 {{'sparsec.reshape' op shape [-1, 2, 32] has 1 dynamic sizes (-1) but 0 size operands}}
  %0 = "sparsec.reshape"(%arg0) <{shape = array<i64: -1, 2, 32>}> : (tensor<?x64xf32>) -> tensor<?x2x32xf32>
  "func.return"(%0) : (tensor<?x2x32xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<?x64xf32>, tensor<i64>) -> tensor<?x2x32xf32>, sym_name = "reshape_size_not_index"}> ({
^bb0(%arg0: tensor<?x64xf32>, %arg1: tensor<i64>):
  // expected-error @+1 {{'sparsec.reshape' op size operands must be index values, got tensor<i64>}}
  %0 = "sparsec.reshape"(%arg0, %arg1) <{shape = array<i64: -1, 2, 32>}> : (tensor<?x64xf32>, tensor<i64>) -> tensor<?x2x32xf32>
  "func.return"(%0) : (tensor<?x2x32xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<?x64xf32>) -> index, sym_name = "dim_axis_out_of_range"}> ({
^bb0(%arg0: tensor<?x64xf32>):
  // expected-error @+1 {{'sparsec.dim' op axis 2 is out of range for rank 2}}
  %0 = "sparsec.dim"(%arg0) <{axis = 2}> : (tensor<?x64xf32>) -> index
  "func.return"(%0) : (index) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<i64>) -> tensor<?xi64>, sym_name = "arange_end_not_index"}> ({
^bb0(%arg0: tensor<i64>):
  // expected-error @+1 {{'sparsec.arange' op end must be an index value, got tensor<i64>}}
  %0 = "sparsec.arange"(%arg0) : (tensor<i64>) -> tensor<?xi64>
  "func.return"(%0) : (tensor<?xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<4x5xf32>, tensor<2xf32>) -> tensor<2x5xf32>, sym_name = "index_float_indices"}> ({
^bb0(%arg0: tensor<4x5xf32>, %arg1: tensor<2xf32>):
  // expected-error @+1 {{'sparsec.index' op index tensors must have integer element types}}
  %0 = "sparsec.index"(%arg0, %arg1) : (tensor<4x5xf32>, tensor<2xf32>) -> tensor<2x5xf32>
  "func.return"(%0) : (tensor<2x5xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<4xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<2xf32>, sym_name = "index_too_many"}> ({
^bb0(%arg0: tensor<4xf32>, %arg1: tensor<2xi64>, %arg2: tensor<2xi64>):
  // expected-error @+1 {{'sparsec.index' op 2 index tensors for an input of rank 1}}
  %0 = "sparsec.index"(%arg0, %arg1, %arg2) : (tensor<4xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<1x512xi64>) -> tensor<1x?xi64>, sym_name = "slice_dynamic_end_without_operand"}> ({
^bb0(%arg0: tensor<1x512xi64>):
  // expected-error @+1 {{'sparsec.slice' op shape [-1] has 1 dynamic sizes (-1) but 0 size operands}}
  %0 = "sparsec.slice"(%arg0) <{axis = 1, end = -1, start = 0, step = 1}> : (tensor<1x512xi64>) -> tensor<1x?xi64>
  "func.return"(%0) : (tensor<1x?xi64>) -> ()
}) : () -> ()

// -----

// expected-error @+1 {{'func.func' op input #0: size 'seq' has no range in sparsec.dim_ranges}}
"func.func"() <{arg_attrs = [{sparsec.dims = ["batch", "seq"]}], function_type = (tensor<?x?xi64>) -> tensor<?x?xi64>, sym_name = "size_without_range"}> ({
^bb0(%arg0: tensor<?x?xi64>):
  "func.return"(%arg0) : (tensor<?x?xi64>) -> ()
}) {sparsec.dim_ranges = {batch = array<i64: 1, 32>}} : () -> ()

// -----

// expected-error @+1 {{'func.func' op input #0: sparsec.dims must name each of its 2 run-time sizes}}
"func.func"() <{arg_attrs = [{sparsec.dims = ["batch"]}], function_type = (tensor<?x?xi64>) -> tensor<?x?xi64>, sym_name = "unnamed_size"}> ({
^bb0(%arg0: tensor<?x?xi64>):
  "func.return"(%arg0) : (tensor<?x?xi64>) -> ()
}) {sparsec.dim_ranges = {batch = array<i64: 1, 32>}} : () -> ()

// -----

// expected-error @+1 {{'func.func' op size 'batch' has the range 4..2; it needs 1 <= min <= max}}
"func.func"() <{function_type = (tensor<?xi64>) -> tensor<?xi64>, sym_name = "empty_range"}> ({
^bb0(%arg0: tensor<?xi64>):
  "func.return"(%arg0) : (tensor<?xi64>) -> ()
}) {sparsec.dim_ranges = {batch = array<i64: 4, 2>}} : () -> ()
