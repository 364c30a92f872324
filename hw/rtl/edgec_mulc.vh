// edgec_mulc.vh: the constant multiply of the Winograd transforms (edgec_wino_in.v and
// edgec_wino_out.v include it inside their module, where W, the arithmetic width, is a
// localparam): x * c at W bits, by shifts and adds, for the transforms' coefficients
// (|c| < 16; c is a constant once the loops are unrolled). Compile with the folder of
// this file on the include path (-I).
function [W-1:0] mulc(input [W-1:0] x, input integer c);
    integer k, ca;
    begin
        ca = (c < 0) ? -c : c;
        mulc = {W{1'b0}};
        for (k = 0; k < 4; k = k + 1) if (ca[k]) mulc = mulc + (x << k);
        if (c < 0) mulc = -mulc;
    end
endfunction
