
set edit:completion:arg-completer[qtool] = { |@words|
    var index = (count $words)
    set index = (- $index 1)

    put (env _CLAP_IFS="\n" _CLAP_COMPLETE_INDEX=(to-string $index) QTOOL_COMPLETE="elvish" qtool -- $@words) | to-lines
}

