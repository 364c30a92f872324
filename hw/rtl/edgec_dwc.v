`timescale 1ns / 1ps
// edgec RTL kernel library: data-width converter, words of IN_E elements of B bits ->
// words of OUT_E elements (element 0 in the low bits). tlast leaves with the output word
// that completes an input word carrying tlast (frames hold a multiple of both widths).
module edgec_dwc #(
    parameter IN_E = 1,
    parameter OUT_E = 1,
    parameter B = 8
) (
    input wire clk,
    input wire rst_n,
    input wire [IN_E*B-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [OUT_E*B-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam BW = (IN_E + OUT_E) * B;
    localparam CW = $clog2(IN_E + OUT_E + 1) + 1;
    localparam integer IN_I = IN_E, OUT_I = OUT_E;
    localparam [CW-1:0] IN_C = IN_I[CW-1:0], OUT_C = OUT_I[CW-1:0];
    reg [BW-1:0] buffer;
    reg [CW-1:0] count;  // elements held
    reg last_pending;  // a tlast arrived with elements still held
    wire out_free = !m_tvalid || m_tready;
    // take an input word when it fits and an output word cannot already be formed
    assign s_tready = (count < OUT_C);
    wire take = s_tvalid && s_tready;
    wire [BW-1:0] merged = take ? (buffer | ({{(BW - IN_E * B) {1'b0}}, s_tdata} << (count * B))) : buffer;
    wire [CW-1:0] merged_n = take ? count + IN_C : count;
    wire merged_last = last_pending || (take && s_tlast);
    wire emit = out_free && (merged_n >= OUT_C);
    always @(posedge clk) begin
        if (!rst_n) begin
            count <= 0;
            buffer <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
            last_pending <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (emit) begin
                m_tdata <= merged[OUT_E*B-1:0];
                m_tvalid <= 1'b1;
                m_tlast <= merged_last && (merged_n == OUT_C);
                buffer <= merged >> (OUT_E * B);
                count <= merged_n - OUT_C;
                last_pending <= merged_last && (merged_n != OUT_C);
            end else begin
                buffer <= merged;
                count <= merged_n;
                last_pending <= merged_last;
            end
        end
    end
endmodule
