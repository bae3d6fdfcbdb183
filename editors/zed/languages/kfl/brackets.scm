("{" @open "}" @close)
("[" @open "]" @close)
("(" @open ")" @close)
(type "<" @open ">" @close)
